import ServiceSupport
import StockSync

#if canImport(Glibc)
import Glibc
#endif

// `stock-sync --once` runs one sync over every vendor and exits (1 if a vendor failed).
let once = CommandLine.arguments.dropFirst().contains("--once")
await Daemon.run("stock-sync") { logger in
    let configuration = try StockSyncConfiguration()
    let app = try StockSyncApp(configuration: configuration, logger: logger, periodic: !once)
    let metadata = configuration.logMetadata.merging(["mode": once ? "once" : "periodic"]) { $1 }
    if once {
        logger.info("starting", metadata: metadata)
        let report = try await app.runner.run()
        await app.shutdown()
        exit(report.failed.isEmpty ? 0 : 1)
    }
    return (metadata, [app.application])
}
