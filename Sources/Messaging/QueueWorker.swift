import AMQP
import Logging
import OrderCore
import ServiceLifecycle
import Synchronization
import Topology

/// What a handler decided about one delivery.
public enum DeliveryOutcome: Sendable, Hashable {
    /// Processed (including business answers such as REJECTED): ack.
    case done
    /// A transient failure: to the retry queue, or the DLQ once retries are spent.
    case retry(reason: String, message: String)
    /// Can never succeed (poison): straight to the DLQ.
    case deadLetter(reason: String, message: String)
}

/// The logic a `QueueWorker` runs for each message.
public protocol DeliveryHandler: Sendable {
    /// Processes one delivery. Anything it publishes goes through `publisher`
    /// (a confirm channel) and is confirmed before this returns, so the ack
    /// that follows comes after everything the message implied.
    /// Throwing an `AMQPError` ends the session: the message is redelivered.
    func handle(_ delivery: AMQPDelivery, publisher: AMQPChannel, logger: Logger) async throws -> DeliveryOutcome

    /// Called after a message went to the DLQ because its retries were spent.
    func retriesExhausted(_ delivery: AMQPDelivery, reason: String, logger: Logger) async
}

extension DeliveryHandler {
    public func retriesExhausted(_ delivery: AMQPDelivery, reason: String, logger: Logger) async {}
}

public struct QueueWorkerConfiguration: Sendable {
    public var amqp: AMQPConfiguration
    public var queues: QueueSet
    /// Unacknowledged deliveries per loop.
    public var prefetch: UInt16
    /// Independent consume loops, each with its own connection.
    public var loops: Int
    public var retryPolicy: RetryPolicy
    /// Written into `x-failed-by`.
    public var workerName: String
    public var reconnectDelay: ClosedRange<Duration>

    public init(
        amqp: AMQPConfiguration, queues: QueueSet, prefetch: UInt16 = 64, loops: Int = 2, retryPolicy: RetryPolicy = RetryPolicy(),
        workerName: String, reconnectDelay: ClosedRange<Duration> = .milliseconds(200)...(.seconds(5))
    ) {
        self.amqp = amqp
        self.queues = queues
        self.prefetch = prefetch
        self.loops = loops
        self.retryPolicy = retryPolicy
        self.workerName = workerName
        self.reconnectDelay = reconnectDelay
    }
}

/// Consumes a main queue with manual acks and routes failures: retry queue
/// with `x-retry-count` + 1, then the DLQ. Each loop owns a connection and
/// reconnects with backoff when the broker goes away; messages that were
/// not acked are redelivered by the broker, so nothing is lost. On graceful
/// shutdown (SIGTERM) the loops stop taking messages, finish the one in
/// hand, and close: unacked prefetched messages go back to the queue.
public struct QueueWorker: Service {
    public let configuration: QueueWorkerConfiguration
    public let handler: any DeliveryHandler
    public let logger: Logger

    public init(configuration: QueueWorkerConfiguration, handler: any DeliveryHandler, logger: Logger) {
        self.configuration = configuration
        self.handler = handler
        self.logger = logger
    }

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<max(1, configuration.loops) {
                group.addTask { await runLoop(index) }
            }
        }
    }

    private func runLoop(_ index: Int) async {
        var logger = logger
        logger[metadataKey: "loop"] = "\(index)"
        var delay = configuration.reconnectDelay.lowerBound
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await session(logger: logger)
                delay = configuration.reconnectDelay.lowerBound
            } catch {
                guard !Task.isShuttingDownGracefully else { break }
                logger.warning("consume session ended; reconnecting", metadata: ["error": "\(error)", "retry_in": "\(delay)"])
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, configuration.reconnectDelay.upperBound)
            }
        }
        logger.info("consume loop stopped")
    }

    private func session(logger: Logger) async throws {
        let connection = try await AMQPConnection.connect(configuration.amqp, logger: logger)
        do {
            let channel = try await connection.openChannel()
            try await channel.setPrefetch(configuration.prefetch)
            let publisher = try await connection.openConfirmChannel()
            let consumer = try await channel.consume(queue: configuration.queues.main)
            logger.info("consuming", metadata: ["queue": "\(configuration.queues.main)", "prefetch": "\(configuration.prefetch)"])
            let stopping = Mutex(false)
            try await withGracefulShutdownHandler {
                for try await delivery in consumer {
                    if stopping.withLock({ $0 }) { break }
                    try await process(delivery, channel: channel, publisher: publisher, logger: logger)
                }
            } onGracefulShutdown: {
                stopping.withLock { $0 = true }
                Task { try? await channel.cancel(consumerTag: consumer.tag) }
            }
        } catch {
            await connection.close()
            throw error
        }
        await connection.close()
    }

    private func process(_ delivery: AMQPDelivery, channel: AMQPChannel, publisher: AMQPChannel, logger: Logger) async throws {
        var logger = logger
        if let id = delivery.properties.correlationID ?? delivery.properties.messageID { logger[metadataKey: "order_id"] = "\(id)" }
        let outcome: DeliveryOutcome
        do {
            outcome = try await handler.handle(delivery, publisher: publisher, logger: logger)
        } catch let error as AMQPError {
            throw error
        } catch {
            outcome = .retry(reason: "unexpected-error", message: "\(error)")
        }
        switch outcome {
        case .done:
            break
        case .retry(let reason, let message):
            let retries = FailureCopy.retryCount(of: delivery.properties)
            switch configuration.retryPolicy.route(retriesSoFar: retries, transient: true) {
            case .retry(let attempt):
                logger.warning("transient failure; retrying", metadata: ["reason": "\(reason)", "error": "\(message)", "attempt": "\(attempt)"])
                try await republish(delivery, to: configuration.queues.retry, retryCount: attempt, reason: reason, message: message, publisher: publisher)
            case .deadLetter:
                logger.error("retries exhausted; dead-lettered", metadata: ["reason": "\(reason)", "error": "\(message)", "retries": "\(retries)"])
                try await republish(delivery, to: configuration.queues.deadLetter, retryCount: retries, reason: reason, message: message, publisher: publisher)
                await handler.retriesExhausted(delivery, reason: reason, logger: logger)
            }
        case .deadLetter(let reason, let message):
            logger.error("message cannot be processed; dead-lettered", metadata: ["reason": "\(reason)", "error": "\(message)"])
            try await republish(
                delivery, to: configuration.queues.deadLetter, retryCount: FailureCopy.retryCount(of: delivery.properties),
                reason: reason, message: message, publisher: publisher)
        }
        try await channel.ack(delivery.deliveryTag)
    }

    private func republish(
        _ delivery: AMQPDelivery, to queue: String, retryCount: Int, reason: String, message: String, publisher: AMQPChannel
    ) async throws {
        let properties = FailureCopy.properties(
            of: delivery, retryCount: retryCount, reason: reason, message: message, originalQueue: configuration.queues.main,
            failedBy: configuration.workerName)
        try await publisher.publish(delivery.body, routingKey: queue, mandatory: true, properties: properties)
    }
}
