import ArgumentParser
import HTTPSupport
import Logging
import OrderWorker
import ServiceLifecycle
import ServiceSupport

@main
struct OrderWorkerCommand: DaemonCommand {
    static let configuration = CommandConfiguration.daemon(
        "order-worker", abstract: "Consumes the orders queue: allocates stock, records each order, publishes its vendor allocations.")

    func services(logger: Logger) throws -> (configuration: Logger.Metadata, services: [any Service]) {
        let configuration = try OrderWorkerConfiguration()
        let app = try OrderWorkerApp(configuration: configuration, logger: logger)
        return (configuration.logMetadata, app.services + [MetricsServer.make(configuration.metrics, serverName: "order-worker", logger: logger)])
    }
}
