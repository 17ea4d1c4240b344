import Admin
import ArgumentParser
import Foundation

struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Follow the order and inventory events.",
        subcommands: [Tail.self]
    )

    struct Tail: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print each event published to order_events as a JSON line, until interrupted or --count events.",
            discussion: """
                Follows through a queue of its own that the broker deletes when orderctl stops, so it takes \
                nothing from the real subscribers and sees only what is published after it started. \
                Routing keys: order.<state> (order.confirmed, order.cancelled, …) and inventory.low_stock, \
                inventory.out_of_stock, inventory.back_in_stock; '*' matches one word, '#' any.
                """)
        @OptionGroup var broker: BrokerOptions
        @OptionGroup var topology: TopologyOptions
        @Option(name: .customLong("routing-key"), help: "Bind with this routing key (repeatable; default '#': every event).")
        var routingKeys: [String] = []
        @Option(name: .customLong("count"), help: "Stop after this many events.")
        var count: Int?

        func validate() throws {
            if let count, count < 1 { throw ValidationError("--count must be at least 1") }
        }

        func run() async throws {
            try await runReporting(.table) {
                try await EventsAdmin(amqpURL: broker.amqpURL, topology: try topology.topology).tail(routingKeys: routingKeys, count: count) { line in
                    // Unbuffered: a pipe (`| jq`) sees each event as it arrives.
                    FileHandle.standardOutput.write(Data((line + "\n").utf8))
                }
            }
        }
    }
}
