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
public final class AMQPConnection: Sendable {
    let loop: ConnectionLoop

    public var configuration: AMQPConfiguration { loop.configuration }

    private init(loop: ConnectionLoop) {
        self.loop = loop
    }

    public static func connect(_ configuration: AMQPConfiguration, logger: Logger = Logger(label: "amqp")) async throws -> AMQPConnection {
        AMQPConnection(loop: try await ConnectionLoop.connect(configuration: configuration, logger: logger))
    }

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
