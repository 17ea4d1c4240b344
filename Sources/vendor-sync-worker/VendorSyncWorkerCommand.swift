import ArgumentParser
import HTTPSupport
import Logging
import ServiceLifecycle
import ServiceSupport
import VendorSync

@main
struct VendorSyncWorkerCommand: DaemonCommand {
    static let configuration = CommandConfiguration.daemon(
        "vendor-sync-worker", abstract: "Consumes the vendor_sync queue: applies each allocation in its vendor's database.")

    func services(logger: Logger) throws -> (configuration: Logger.Metadata, services: [any Service]) {
        let configuration = try VendorSyncConfiguration()
        let app = try VendorSyncApp(configuration: configuration, logger: logger)
        return (configuration.logMetadata, app.services + [MetricsServer.make(configuration.metrics, serverName: "vendor-sync-worker", logger: logger)])
    }
}
