import ArgumentParser
import ServiceSupport
import VendorSync

@main
struct VendorSyncWorkerCommand: ProjectCommand {
    static let configuration = CommandConfiguration(
        commandName: "vendor-sync-worker",
        abstract: "Consumes the vendor_sync queue: applies each allocation in its vendor's database.",
        discussion: Daemon.discussion,
        version: ProjectVersion.text)

    func run() async throws {
        await Daemon.run("vendor-sync-worker") { logger in
            let configuration = try VendorSyncConfiguration()
            return (configuration.logMetadata, try VendorSyncApp(configuration: configuration, logger: logger).services)
        }
    }
}
