import ServiceSupport
import VendorSync

await Daemon.run("vendor-sync-worker") { logger in
    let configuration = try VendorSyncConfiguration()
    return (configuration.logMetadata, try VendorSyncApp(configuration: configuration, logger: logger).services)
}
