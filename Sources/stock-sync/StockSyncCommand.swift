import ArgumentParser
import ServiceSupport
import StockSync

@main
struct StockSyncCommand: ProjectCommand {
    static let configuration = CommandConfiguration(
        commandName: "stock-sync",
        abstract: "Pulls each vendor's stock into ordersdb periodically and serves the Stock Service HTTP API.",
        discussion: Daemon.discussion,
        version: ProjectVersion.text)

    @Flag(help: "Run one sync over every vendor and exit (status 1 if a vendor failed), without the HTTP API.")
    var once = false

    func run() async throws {
        await Daemon.run("stock-sync") { logger in
            let configuration = try StockSyncConfiguration()
            let app = try StockSyncApp(configuration: configuration, logger: logger, periodic: !once)
            let metadata = configuration.logMetadata.merging(["mode": once ? "once" : "periodic"]) { $1 }
            return (metadata, once ? app.oneShotServices : [app.application])
        }
    }
}
