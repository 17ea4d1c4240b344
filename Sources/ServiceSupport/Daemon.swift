import Logging
import ServiceLifecycle
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// The life of a daemon process: JSON logs, its effective configuration
/// logged at start, its services in a ServiceGroup that shuts down gracefully
/// on SIGTERM or SIGINT, and exit status 1 when it cannot start or fails.
public enum Daemon {
    public static func run(
        _ name: String,
        _ build: (Logger) async throws -> (configuration: Logger.Metadata, services: [any Service])
    ) async -> Never {
        JSONLogHandler.bootstrap()
        let logger = Logger(label: name)
        do {
            let (configuration, services) = try await build(logger)
            logger.info("starting", metadata: configuration)
            try await serviceGroup(services, logger: logger).run()
            logger.info("stopped")
            exit(0)
        } catch {
            logger.critical("\(name) failed", metadata: [LogKey.error: "\(error)"])
            exit(1)
        }
    }

    /// The group `run` runs: a service that returns or throws stops the
    /// group with an error, except a ``OneShotService``'s return, which
    /// shuts it down gracefully.
    public static func serviceGroup(
        _ services: [any Service], logger: Logger, gracefulShutdownSignals: [UnixSignal] = [.sigterm, .sigint]
    ) -> ServiceGroup {
        ServiceGroup(
            configuration: .init(
                services: services.map { service in
                    .init(service: service, successTerminationBehavior: service is any OneShotService ? .gracefullyShutdownGroup : .cancelGroup)
                },
                gracefulShutdownSignals: gracefulShutdownSignals, logger: logger))
    }
}

/// A service whose return is the end of its process's work (a one-shot run),
/// not an unexpected stop: the group shuts down gracefully after it.
public protocol OneShotService: Service {}
