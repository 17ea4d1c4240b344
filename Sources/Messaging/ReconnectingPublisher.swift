import AMQP
import Logging
import ServiceSupport
import Synchronization

/// A confirm channel that reconnects on demand, for request/response callers
/// (the HTTP API). Publishes from many tasks share the channel, so many
/// confirms are in flight at once. When the broker is unreachable a publish
/// fails fast instead of hanging: the caller answers 503 and the client retries.
public actor ReconnectingPublisher {
    private let configuration: AMQPConfiguration
    private let logger: Logger
    /// The open channel, readable without a hop onto the actor (every request reads it).
    private nonisolated let open = Mutex<AMQPChannel?>(nil)
    private var channel: AMQPChannel? {
        get { open.withLock { $0 } }
        set { open.withLock { $0 = newValue } }
    }
    private var connecting: Task<AMQPChannel, any Error>?
    private nonisolated let deadlines = DeadlineWatch()

    public init(configuration: AMQPConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// The open channel, connecting first when there is none (one attempt shared by all callers).
    public func currentChannel() async throws -> AMQPChannel {
        if let channel, channel.connection.isOpen { return channel }
        channel = nil
        if let connecting { return try await connecting.value }
        let configuration = configuration
        let logger = logger
        let attempt = Task {
            let connection = try await AMQPConnection.connect(configuration, logger: logger)
            return try await connection.openConfirmChannel()
        }
        connecting = attempt
        defer { connecting = nil }
        do {
            let opened = try await attempt.value
            channel = opened
            logger.info("publisher connected", metadata: [LogKey.amqpURL: "\(configuration.redactedURL)"])
            return opened
        } catch {
            logger.warning("publisher cannot connect", metadata: [LogKey.error: "\(error)"])
            throw error
        }
    }

    /// Forgets a channel that died, so the next publish reconnects.
    public func discard(_ dead: AMQPChannel) async {
        guard let channel, channel === dead else { return }
        self.channel = nil
        await dead.connection.close()
    }

    /// Publishes (mandatory) and waits for the confirm, at most `timeout`
    /// (connecting first included). A publish that timed out may still be
    /// confirmed later; its caller has answered by then.
    public nonisolated func publish(
        _ body: [UInt8], routingKey: String, properties: AMQPProperties, timeout: Duration
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let wait = DeadlineWatch.Wait(continuation, timeout: timeout, deadline: deadline)
            deadlines.watch(wait)
            if let channel = open.withLock({ $0 }), channel.connection.isOpen {
                send(body, routingKey: routingKey, properties: properties, on: channel, answering: wait)
            } else {
                Task {
                    do {
                        send(body, routingKey: routingKey, properties: properties, on: try await currentChannel(), answering: wait)
                    } catch {
                        wait.answer(.failure(error))
                    }
                }
            }
        }
    }

    private nonisolated func send(
        _ body: [UInt8], routingKey: String, properties: AMQPProperties, on channel: AMQPChannel, answering wait: DeadlineWatch.Wait
    ) {
        channel.publish(body, routingKey: routingKey, mandatory: true, properties: properties) { result in
            if case .failure(let error) = result, error.isChannelDead {
                Task { await self.discard(channel) }
            }
            wait.answer(result.mapError { $0 })
        }
    }

    /// Whether the broker answers now (for readiness).
    public func isReady() async -> Bool {
        (try? await currentChannel()) != nil
    }

    public func close() async {
        if let channel { await channel.connection.close() }
        channel = nil
    }
}
