import ArgumentParser
import Foundation

/// The root command of one of this project's executables. Its entry point is
/// ArgumentParser's, except that bad usage (an unknown argument, a malformed
/// value) prints the error and the usage on stderr and exits with
/// ``usageExitStatus`` instead of ArgumentParser's EX_USAGE (64), so every
/// executable answers bad usage the same way orderctl documents.
/// `--help` and `--version` print to stdout and exit 0.
public protocol ProjectCommand: AsyncParsableCommand {}

extension ProjectCommand {
    /// The exit status of bad usage, in every executable.
    public static var usageExitStatus: Int32 { 2 }

    public static func main() async {
        do {
            var command = try await asyncParseAsRoot()
            if var command = command as? AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(usageExitStatus)
            }
            exit(withError: error)
        }
    }
}
