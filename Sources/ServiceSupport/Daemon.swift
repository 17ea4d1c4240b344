import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// The life of a daemon process: JSON logs at `LOG_LEVEL`, a warning for each
/// variable that looks like a misspelt known one, its effective configuration
/// logged at start, its services in a ServiceGroup that shuts down gracefully
/// on SIGTERM or SIGINT, and exit status 1 when it cannot start (a
/// configuration error included) or fails. Its metrics count into
/// ``ProcessMetrics`` from the start.
public enum Daemon {
    public static func run(
        _ name: String,
        _ build: (Logger) async throws -> (configuration: Logger.Metadata, services: [any Service])
    ) async -> Never {
        // Signals are trapped before anything else, not when the group starts: a SIGTERM
        // that arrives while the daemon is still starting (an orchestrator scaling down,
        // a test stopping a process it just started) is a graceful stop too, never a death by signal.
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let running = Mutex<ServiceGroup?>(nil)
        let environment = EnvironmentConfiguration()
        // An unusable LOG_LEVEL is reported at the default level, and then stops the start as any configuration error does.
        let level = Result { try environment.logLevel() }
        JSONLogHandler.bootstrap(level: (try? level.get()) ?? .info)
        W3CTracePropagation.bootstrap()
        ProcessMetrics.bootstrap()
        let logger = Logger(label: name)
        for (unknown, known) in environment.lookalikes {
            logger.warning("unknown variable \(unknown) (did you mean \(known.name)?)")
        }
        Task {
            for await signal in signals {
                if let group = running.withLock({ $0 }) {
                    await group.triggerGracefulShutdown()
                } else {
                    // Nothing has started, so nothing is in flight: stopping is exiting.
                    logger.info("stopped before starting", metadata: [LogKey.signal: "\(signal)"])
                    exit(0)
                }
            }
        }
        do {
            _ = try level.get()
            let (configuration, services) = try await build(logger)
            let group = serviceGroup(services, logger: logger)
            running.withLock { $0 = group }
            logger.info("starting", metadata: configuration.merging([LogKey.version: "\(ProjectVersion.text)"]) { $1 })
            try await group.run()
            logger.info("stopped")
            exit(0)
        } catch {
            logger.critical("\(name) failed", metadata: [LogKey.error: "\(error)"])
            exit(1)
        }
    }

    /// What every daemon's `--help` says after its abstract.
    public static let discussion = """
        Configured by environment variables only (README, "Configuration"); LOG_LEVEL is one of \
        trace, debug, info, notice, warning, error, critical. A set variable that looks like a misspelt \
        known one is warned about at start. Logs JSON lines on stdout; stops gracefully on SIGTERM or SIGINT.

        Exit status: 0 after a graceful stop, 1 when it cannot start (a configuration error, for one) or \
        fails, 2 on bad usage.
        """

    /// The group `run` runs: a service that returns or throws stops the
    /// group with an error, except a ``OneShotService``'s return, which
    /// shuts it down gracefully. It traps no signal itself: `run` forwards
    /// SIGTERM and SIGINT to it as a graceful shutdown.
    public static func serviceGroup(_ services: [any Service], logger: Logger) -> ServiceGroup {
        ServiceGroup(
            configuration: .init(
                services: services.map { service in
                    .init(service: service, successTerminationBehavior: service is any OneShotService ? .gracefullyShutdownGroup : .cancelGroup)
                },
                logger: logger))
    }
}

/// A service whose return is the end of its process's work (a one-shot run),
/// not an unexpected stop: the group shuts down gracefully after it.
public protocol OneShotService: Service {}
