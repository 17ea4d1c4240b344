import ArgumentParser
import Console
import Logging
import ServiceLifecycle
import ServiceSupport

@main
struct OrderConsoleCommand: DaemonCommand {
    static let configuration = CommandConfiguration.daemon(
        "order-console",
        abstract: "Serves the operator console: queues, dead letters (peek, replay, purge), an order's timeline, stock.")

    func services(logger: Logger) throws -> (configuration: Logger.Metadata, services: [any Service]) {
        let configuration = try ConsoleConfiguration()
        return (configuration.logMetadata, [try buildConsole(configuration: configuration, logger: logger)])
    }
}
