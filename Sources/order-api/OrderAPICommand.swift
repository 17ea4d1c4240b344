import ArgumentParser
import Logging
import OrderAPI
import ServiceLifecycle
import ServiceSupport

@main
struct OrderAPICommand: DaemonCommand {
    static let configuration = CommandConfiguration.daemon(
        "order-api", abstract: "The order API: accepts orders onto the broker, serves orders, products and health over HTTP.")

    func services(logger: Logger) throws -> (configuration: Logger.Metadata, services: [any Service]) {
        let configuration = try OrderAPIConfiguration()
        return (configuration.logMetadata, [try buildOrderAPI(configuration: configuration, logger: logger)])
    }
}
