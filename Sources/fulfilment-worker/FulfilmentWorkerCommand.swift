import ArgumentParser
import FulfilmentWorker
import Logging
import ServiceLifecycle
import ServiceSupport

@main
struct FulfilmentWorkerCommand: DaemonCommand {
    static let configuration = CommandConfiguration.daemon(
        "fulfilment-worker",
        abstract: "Consumes order.confirmed events: sends each order to the warehouse (WMS_URL), with retry tiers, a circuit breaker and a DLQ.")

    func services(logger: Logger) throws -> (configuration: Logger.Metadata, services: [any Service]) {
        let configuration = try FulfilmentWorkerConfiguration()
        return (configuration.logMetadata, [try FulfilmentWorkerApp(configuration: configuration, logger: logger).application])
    }
}
