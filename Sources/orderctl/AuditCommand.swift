import Admin
import ArgumentParser
import Foundation

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Print the audit log: every replay, move and purge of dead letters (from order-console or orderctl) and the console's refused attempts.",
        discussion: "Oldest first: the most recent --limit rows, at or after --since when given.")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "Only rows at most this long ago: 90s, 10m, 2h, 1d.", transform: DeadLetterCommand.Filters.duration) var since: TimeInterval?
    @Option(help: "Most rows printed (the most recent).") var limit: Int = 100

    func validate() throws {
        guard limit >= 1 else { throw ValidationError("--limit must be at least 1") }
    }

    func run() async throws {
        try await runReporting(output.format) {
            let since = since.map { Date().addingTimeInterval(-$0) }
            print(try AuditAdmin(databaseURL: database.databaseURL).list(since: since, limit: limit).render(output.format))
        }
    }
}
