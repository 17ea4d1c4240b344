import Admin
import ArgumentParser
import Foundation
import ServiceSupport

@main
struct OrderCtl: ProjectCommand {
    static let configuration = CommandConfiguration(
        commandName: "orderctl",
        abstract: "Operate the order-processing system: broker topology, databases, dead-letter queues, orders and their events.",
        discussion: """
            Connection settings come from the same environment variables as the daemons
            (AMQP_URLS or AMQP_URL, DATABASE_URL, VENDOR_DATABASE_URLS, MIGRATIONS_DIR); flags override them.
            Each command takes only the connection options it uses.

            With --output json, results and errors are JSON on standard output (an error is
            {"error": "...", "exitCode": N}); the error line on standard error stays.

            Exit codes: 0 success, 1 the command found a problem or refused (a filter that
            matched nothing, no such order), 2 bad usage (also a command group without a
            subcommand, like orderctl alone), 3 the broker cannot be reached, 4 a database
            cannot be reached.
            """,
        version: ProjectVersion.text,
        subcommands: [
            TopologyCommand.self, DatabaseCommand.self, DeadLetterCommand.self, OrdersCommand.self, EventsCommand.self, HealthCommand.self,
            AuditCommand.self,
        ]
    )

    /// A command group given without a subcommand (`orderctl`, `orderctl dlq`) is bad usage.
    static let groupWithoutSubcommandIsUsage = true

    /// With `--output json`, a usage error is a JSON error object on stdout too.
    static func reportUsageError(_ message: String) {
        if OutputOptions.requestedJSON(CommandLine.arguments) {
            print(AdminError(message, exitCode: ExitStatus.usage).json)
        }
    }
}

/// Runs a command body, turning failures into one line on stderr (and, with
/// `--output json`, a JSON error object on stdout) and the documented exit code.
func runReporting(_ output: OutputFormat, _ body: () async throws -> Void) async throws {
    func report(_ error: AdminError) -> ExitCode {
        FileHandle.standardError.write(Data("orderctl: \(error.message)\n".utf8))
        if output == .json { print(error.json) }
        return ExitCode(error.exitCode)
    }
    do {
        try await body()
    } catch let error as AdminError {
        throw report(error)
    } catch let error as ExitCode {
        throw error
    } catch {
        throw report(AdminError("\(error)"))
    }
}
