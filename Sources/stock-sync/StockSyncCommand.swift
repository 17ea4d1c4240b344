import ArgumentParser
import Logging
import ServiceLifecycle
import ServiceSupport
import StockSync

@main
struct StockSyncCommand: DaemonCommand {
    static let configuration = CommandConfiguration.daemon(
        "stock-sync", abstract: "Pulls each vendor's stock into ordersdb periodically and serves the Stock Service HTTP API.")

    @Flag(help: "Run one sync over every vendor and exit (status 1 if a vendor failed), without the HTTP API.")
    var once = false

    func services(logger: Logger) throws -> (configuration: Logger.Metadata, services: [any Service]) {
        let configuration = try StockSyncConfiguration()
        let app = try StockSyncApp(configuration: configuration, logger: logger, periodic: !once)
        let metadata = configuration.logMetadata.merging(["mode": once ? "once" : "periodic"]) { $1 }
        return (metadata, once ? app.oneShotServices : [app.application])
    }
}
