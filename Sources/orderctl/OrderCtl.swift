import Admin
import ArgumentParser
import Foundation
import ServiceSupport

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
        subcommands: [TopologyCommand.self, DatabaseCommand.self, DeadLetterCommand.self, OrdersCommand.self, HealthCommand.self]
    )

    /// ArgumentParser's own entry point, except that bad usage exits with the
    /// documented 2 instead of EX_USAGE (64).
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var command = command as? AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(ExitStatus.usage)
            }
            exit(withError: error)
        }
    }
}

/// Options every command shares.
struct GlobalOptions: ParsableArguments {
    // No declared defaults: --help would print the environment's values, passwords included.
    @Option(name: .customLong("amqp-url"), help: "Broker URL (default: $AMQP_URL or \(Defaults.amqpURL)).")
    var amqpURLOption: String?

    @Option(name: .customLong("database-url"), help: "ordersdb URL (default: $DATABASE_URL or \(Defaults.databaseURL)).")
    var databaseURLOption: String?

    @Option(name: .customLong("vendor-database-urls"), help: "vendor=url,… (default: $VENDOR_DATABASE_URLS or the local vendoradb and vendorbdb).")
    var vendorDatabaseURLsOption: String?

    var amqpURL: String { amqpURLOption ?? EnvironmentConfiguration().amqpURL }
    var databaseURL: String { databaseURLOption ?? EnvironmentConfiguration().databaseURL }

    @Option(name: .customLong("output"), help: "table or json.")
    var output: OutputFormat = .table
}

extension OutputFormat: ExpressibleByArgument {}

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

extension GlobalOptions {
    func vendorURLs() throws -> [(name: String, url: String)] {
        do {
            let environment = EnvironmentConfiguration()
            guard let option = vendorDatabaseURLsOption else { return try environment.vendorDatabaseURLs() }
            return try EnvironmentConfiguration(environment.values.merging(["VENDOR_DATABASE_URLS": option]) { $1 }).vendorDatabaseURLs()
        } catch {
            throw AdminError("\(error)")
        }
    }
}
