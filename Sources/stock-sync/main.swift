import ServiceSupport
import StockSync

// `stock-sync --once` runs one sync over every vendor and exits (1 if a vendor failed).
let once = CommandLine.arguments.dropFirst().contains("--once")
await Daemon.run("stock-sync") { logger in
    let configuration = try StockSyncConfiguration()
    let app = try StockSyncApp(configuration: configuration, logger: logger, periodic: !once)
    let metadata = configuration.logMetadata.merging(["mode": once ? "once" : "periodic"]) { $1 }
    return (metadata, once ? app.oneShotServices : [app.application])
}
