import Logging
import Messaging
import ServiceSupport
import TextCodecs
import Topology

/// order-console's configuration, from the environment.
public struct ConsoleConfiguration: Sendable {
    public var amqpURL: String
    public var databaseURL: String
    public var managementURL: String
    public var topology: Topology
    public var host: String
    public var port: Int
    /// The token an operator signs in with; nil keeps the console read-only.
    public var token: String?

    /// The shortest `CONSOLE_TOKEN` accepted.
    public static let minimumTokenBytes = 16

    /// Reads `AMQP_URL`, `DATABASE_URL`, `RABBITMQ_MANAGEMENT_URL`, `QUEUE_PREFIX`,
    /// `CONSOLE_HTTP_HOST` (127.0.0.1), `CONSOLE_HTTP_PORT` (8083), `CONSOLE_TOKEN` (unset: read-only; at least 16 bytes when set).
    public init(environment: EnvironmentConfiguration = EnvironmentConfiguration()) throws {
        amqpURL = environment.amqpURL
        databaseURL = environment.databaseURL
        managementURL = environment.string(.rabbitMQManagementURL, default: Defaults.rabbitMQManagementURL)
        topology = try environment.topology()
        host = environment.string(.consoleHTTPHost, default: "127.0.0.1")
        port = try environment.int(.consoleHTTPPort, default: 8083, in: 0...65535)
        token = environment.optionalString(.consoleToken)
        // A short token is guessed by trying: the sign-in form is not rate-limited.
        if let token, token.utf8.count < Self.minimumTokenBytes {
            throw ConfigurationError(.consoleToken, "must be at least \(Self.minimumTokenBytes) bytes when set, got \(token.utf8.count)")
        }
    }

    public var logMetadata: Logger.Metadata {
        [
            LogKey.amqpURL: "\(URLRedaction.redact(amqpURL))", LogKey.databaseURL: "\(URLRedaction.redact(databaseURL))",
            "address": "\(host):\(port)", "actions": "\(token == nil ? "disabled (read-only)" : "enabled (token set)")",
        ]
    }
}
