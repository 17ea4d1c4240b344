import Logging
import OrderWorker
import ServiceLifecycle
import ServiceSupport
#if canImport(Glibc)
import Glibc
#endif

JSONLogHandler.bootstrap()
let logger = Logger(label: "order-worker")
do {
    let configuration = try OrderWorkerConfiguration()
    logger.info("starting", metadata: configuration.logMetadata)
    let app = try OrderWorkerApp(configuration: configuration, logger: logger)
    let group = ServiceGroup(
        configuration: .init(services: app.services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    try await group.run()
    logger.info("stopped")
} catch {
    logger.critical("order-worker failed", metadata: ["error": "\(error)"])
    exit(1)
}
