import ArgumentParser
import Foundation

/// The root command of one of this project's executables. Its entry point is
/// ArgumentParser's, except that bad usage (an unknown argument, a malformed
/// value) prints the error and the usage on stderr and exits with
/// ``usageExitStatus`` instead of ArgumentParser's EX_USAGE (64), so every
/// executable answers bad usage the same way orderctl documents.
/// `--help` and `--version` print to stdout and exit 0.
public protocol ProjectCommand: AsyncParsableCommand {
    /// Whether a command group given without a subcommand (`orderctl dlq`) is
    /// bad usage (its help on stderr, exit 2) rather than a help request.
    static var groupWithoutSubcommandIsUsage: Bool { get }
    /// Called with the message of a usage error before the exit, for a
    /// command that reports errors in another form too (orderctl's JSON).
    static func reportUsageError(_ message: String)
}

extension ProjectCommand {
    /// The exit status of bad usage, in every executable.
    public static var usageExitStatus: Int32 { 2 }

    public static var groupWithoutSubcommandIsUsage: Bool { false }

    public static func reportUsageError(_ message: String) {}

    public static func main() async {
        do {
            var command = try await asyncParseAsRoot()
            let type = Swift.type(of: command)
            if groupWithoutSubcommandIsUsage, !type.configuration.subcommands.isEmpty {
                FileHandle.standardError.write(Data(helpMessage(for: type).utf8))
                Foundation.exit(usageExitStatus)
            }
            if var command = command as? AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                reportUsageError(message(for: error))
                Foundation.exit(usageExitStatus)
            }
            exit(withError: error)
        }
    }
}
