import ArgumentParser
import HTTPSupport
import ChannelSync
import Logging
import ServiceLifecycle
import ServiceSupport

@main
struct ChannelSyncCommand: DaemonCommand {
    static let configuration = CommandConfiguration.daemon(
        "channel-sync",
        abstract: "Pushes each product's available stock to the sales channel (Shopify's Admin API) and reconciles the channel's stock and orders.")

    func services(logger: Logger) throws -> (configuration: Logger.Metadata, services: [any Service]) {
        let configuration = try ChannelSyncConfiguration()
        let app = try ChannelSyncApp(configuration: configuration, logger: logger)
        return (configuration.logMetadata, app.services + [MetricsServer.make(configuration.metrics, serverName: "channel-sync", logger: logger)])
    }
}
