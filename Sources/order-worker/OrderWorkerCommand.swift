import ArgumentParser
import OrderWorker
import ServiceSupport

@main
struct OrderWorkerCommand: ProjectCommand {
    static let configuration = CommandConfiguration(
        commandName: "order-worker",
        abstract: "Consumes the orders queue: allocates stock, records each order, publishes its vendor allocations.",
        discussion: Daemon.discussion,
        version: ProjectVersion.text)

    func run() async throws {
        await Daemon.run("order-worker") { logger in
            let configuration = try OrderWorkerConfiguration()
            return (configuration.logMetadata, try OrderWorkerApp(configuration: configuration, logger: logger).services)
        }
    }
}
