import ArgumentParser
import OrderAPI
import ServiceSupport

@main
struct OrderAPICommand: ProjectCommand {
    static let configuration = CommandConfiguration(
        commandName: "order-api",
        abstract: "The order API: accepts orders onto the broker, serves orders, products and health over HTTP.",
        discussion: Daemon.discussion,
        version: ProjectVersion.text)

    func run() async throws {
        await Daemon.run("order-api") { logger in
            let configuration = try OrderAPIConfiguration()
            return (configuration.logMetadata, [try buildOrderAPI(configuration: configuration, logger: logger)])
        }
    }
}
