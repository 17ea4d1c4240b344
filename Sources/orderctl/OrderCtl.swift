import Admin
import ArgumentParser
import Foundation

@main
struct OrderCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "orderctl",
        abstract: "Operate the order-processing system: broker topology, databases and dead-letter queues.",
        discussion: """
            Connection settings come from the same environment variables as the daemons
            (AMQP_URL, DATABASE_URL, VENDOR_DATABASE_URLS, MIGRATIONS_DIR); flags override them.

            Exit codes: 0 success, 1 the command found a problem or refused, 2 bad usage,
            3 the broker cannot be reached, 4 a database cannot be reached.
            """,
        subcommands: [TopologyCommand.self]
    )
}

/// Options every command shares.
struct GlobalOptions: ParsableArguments {
    @Option(name: .customLong("amqp-url"), help: "Broker URL (default: $AMQP_URL or amqp://guest:guest@127.0.0.1:5672/%2F).")
    var amqpURL: String = Environment.string("AMQP_URL", default: "amqp://guest:guest@127.0.0.1:5672/%2F")

    @Option(name: .customLong("output"), help: "table or json.")
    var output: OutputFormat = .table
}

extension OutputFormat: ExpressibleByArgument {}

enum Environment {
    static func string(_ name: String, default value: String) -> String {
        guard let raw = ProcessInfo.processInfo.environment[name], !raw.isEmpty else { return value }
        return raw
    }
}

/// Runs a command body, turning failures into one line on stderr and the documented exit code.
func runReporting(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as AdminError {
        FileHandle.standardError.write(Data("orderctl: \(error.message)\n".utf8))
        throw ExitCode(error.exitCode)
    } catch let error as ExitCode {
        throw error
    } catch {
        FileHandle.standardError.write(Data("orderctl: \(error)\n".utf8))
        throw ExitCode(ExitStatus.failure)
    }
}
