import Foundation
import Hummingbird
import Logging
import ServiceSupport
import StockSync

#if canImport(Glibc)
import Glibc
#endif

// `stock-sync --once` runs one sync over every vendor and exits (1 if a vendor failed).
JSONLogHandler.bootstrap()
let logger = Logger(label: "stock-sync")
let once = CommandLine.arguments.dropFirst().contains("--once")
do {
    let configuration = try StockSyncConfiguration()
    logger.info("starting", metadata: configuration.logMetadata.merging(["mode": "\(once ? "once" : "periodic")"]) { $1 })
    let app = try StockSyncApp(configuration: configuration, logger: logger, periodic: !once)
    if once {
        let report = try await app.runner.run()
        await app.shutdown()
        exit(report.failed.isEmpty ? 0 : 1)
    }
    try await app.application.runService()
    logger.info("stopped")
} catch {
    logger.critical("stock-sync failed", metadata: ["error": "\(error)"])
    exit(1)
}
