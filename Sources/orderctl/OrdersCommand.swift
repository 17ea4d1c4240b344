import Admin
import ArgumentParser
import Foundation

struct OrdersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "orders",
        abstract: "Look at orders in ordersdb.",
        subcommands: [Show.self]
    )

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show an order: status, reason, lines, vendor allocations and its history of transitions (exit 1 when there is no such order).")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "The order id (a UUID).", transform: Show.orderID) var id: UUID

        static func orderID(_ text: String) throws -> UUID {
            guard let id = UUID(uuidString: text) else { throw ValidationError("'\(text)' is not an order id (a UUID)") }
            return id
        }

        func run() async throws {
            try await runReporting(output.format) { print(try OrderAdmin(databaseURL: database.databaseURL).show(id).render(output.format)) }
        }
    }
}
