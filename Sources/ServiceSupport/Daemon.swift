import Logging
import ServiceLifecycle

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
            let group = ServiceGroup(
                configuration: .init(
                    services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
            logger.info("stopped")
            exit(0)
        } catch {
            logger.critical("\(name) failed", metadata: ["error": "\(error)"])
            exit(1)
        }
    }
}
