import Hummingbird
import Logging
import OrderAPI
import ServiceSupport

#if canImport(Glibc)
import Glibc
#endif

JSONLogHandler.bootstrap()
let logger = Logger(label: "order-api")
do {
    let configuration = try OrderAPIConfiguration()
    logger.info("starting", metadata: configuration.logMetadata)
    let app = try buildOrderAPI(configuration: configuration, logger: logger)
    try await app.runService()
    logger.info("stopped")
} catch {
    logger.critical("order-api failed", metadata: ["error": "\(error)"])
    exit(1)
}
