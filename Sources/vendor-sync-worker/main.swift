import Logging
import ServiceLifecycle
import ServiceSupport
import VendorSync

#if canImport(Glibc)
import Glibc
#endif

JSONLogHandler.bootstrap()
let logger = Logger(label: "vendor-sync-worker")
do {
    let configuration = try VendorSyncConfiguration()
    logger.info("starting", metadata: configuration.logMetadata)
    let app = try VendorSyncApp(configuration: configuration, logger: logger)
    let group = ServiceGroup(
        configuration: .init(services: app.services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    try await group.run()
    logger.info("stopped")
} catch {
    logger.critical("vendor-sync-worker failed", metadata: ["error": "\(error)"])
    exit(1)
}
