import CRabbitMQ
import Logging

/// A connection to RabbitMQ, served by a thread of its own.
///
/// Every method is safe to call from any task. Operations are queued to the
/// connection's thread, so many publishes can be in flight at once: each
/// `publish` on a confirm channel completes when the broker confirms *that*
/// message. When the connection dies (broker restart, network, heartbeat)
/// every pending operation fails with an `AMQPError` whose
/// `isConnectionDead` is true; `waitUntilClosed()` tells a supervisor when
/// to reconnect.
///
/// A connection lives on one node. Reconnecting (a new `connect`) is what
/// fails over: it tries the configuration's endpoints, the ones that failed
/// last.
public final class AMQPConnection: Sendable {
    let loop: ConnectionLoop
    /// The node this connection landed on.
    public let endpoint: AMQPConfiguration.Endpoint

    public var configuration: AMQPConfiguration { loop.configuration }

    private init(loop: ConnectionLoop, endpoint: AMQPConfiguration.Endpoint) {
        self.loop = loop
        self.endpoint = endpoint
    }

    /// Connects to the first endpoint that takes the connection. Each process
    /// starts at a node of its own (so instances spread over a cluster);
    /// nodes that failed, to connect to or under a connection, come last.
    /// Each node gets `connectTimeout`; when none takes the connection the
    /// error names every node's cause.
    public static func connect(_ configuration: AMQPConfiguration, logger: Logger = Logger(label: "amqp")) async throws -> AMQPConnection {
        let (loop, endpoint) = try await ConnectionLoop.connect(configuration: configuration, logger: logger)
        return AMQPConnection(loop: loop, endpoint: endpoint)
    }

    /// The URL of the node this connection landed on, password masked, for logs.
    public var redactedURL: String { configuration.redactedURL(of: endpoint) }

    public static func connect(url: String, connectionName: String = "order-processing", logger: Logger = Logger(label: "amqp")) async throws -> AMQPConnection {
        try await connect(AMQPConfiguration(url: url, connectionName: connectionName), logger: logger)
    }

    deinit {
        loop.fireAndForget { $0.closeConnection() }
    }

    public var isOpen: Bool { loop.isOpen }

    public func openChannel() async throws -> AMQPChannel {
        let number = try await loop.perform { try $0.openChannel() }
        return AMQPChannel(connection: self, number: number)
    }

    /// Opens a channel in publisher-confirm mode.
    public func openConfirmChannel() async throws -> AMQPChannel {
        let channel = try await openChannel()
        try await channel.enableConfirms()
        return channel
    }

    /// Closes the connection (connection.close) and waits until its thread let go of it.
    public func close() async {
        _ = try? await loop.perform { $0.closeConnection() }
    }

    /// Returns once the connection is gone, with the reason.
    public func waitUntilClosed() async -> AMQPError {
        await loop.waitUntilClosed()
    }
}
