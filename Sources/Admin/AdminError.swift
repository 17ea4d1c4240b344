import AMQP
import OrderCore

/// A failure an operator reads: one line, and the exit code scripts check.
public struct AdminError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public let exitCode: Int32

    public init(_ message: String, exitCode: Int32 = ExitStatus.failure) {
        self.message = message
        self.exitCode = exitCode
    }

    public var description: String { message }

    /// The error as a script reads it with `--output json`: `{"error": "...", "exitCode": N}`.
    public var json: String {
        JSONValue.object(["error": .string(message), "exitCode": .integer(Int64(exitCode))]).json()
    }
}

/// orderctl's exit codes (also in its --help).
public enum ExitStatus {
    public static let success: Int32 = 0
    /// The command ran and found a problem (a mismatch, a refused purge, …).
    public static let failure: Int32 = 1
    /// Bad usage: an unknown option, a malformed value or URL.
    public static let usage: Int32 = 2
    /// The broker cannot be reached.
    public static let brokerUnavailable: Int32 = 3
    /// A database cannot be reached.
    public static let databaseUnavailable: Int32 = 4
}

extension AdminError {
    static func broker(_ error: any Error, url: String) -> AdminError {
        AdminError("cannot reach the broker at \(url): \(error)", exitCode: ExitStatus.brokerUnavailable)
    }
}
