import AMQP
import Logging
import ServiceSupport
import OrderCore
import ServiceLifecycle
import Topology

/// What a handler decided about one delivery.
public enum DeliveryOutcome: Sendable, Hashable {
    /// Processed (including business answers such as REJECTED): ack.
    case done
    /// A transient failure: to the retry queue, or the DLQ once retries are spent.
    case retry(reason: String, message: String)
    /// Can never succeed (poison): straight to the DLQ.
    case deadLetter(reason: String, message: String)
    /// Nothing is wrong with the message, but what it needs is away (a
    /// payment gateway that does not answer, a circuit breaker that is open):
    /// to the retry queue without counting a retry, so an outage of any length
    /// dead-letters nothing. What bounds the wait is the business timer (the
    /// reservation's deadline), not the retry count.
    case postpone(reason: String, message: String)
}

/// What a handler made of a window of deliveries: one outcome each (in
/// delivery order) and the messages the window implies. The worker publishes
/// those with confirms and only then acks the window.
public struct HandledWindow: Sendable {
    public var outcomes: [DeliveryOutcome]
    public var messages: [AMQPOutgoingMessage]

    public init(outcomes: [DeliveryOutcome], messages: [AMQPOutgoingMessage] = []) {
        self.outcomes = outcomes
        self.messages = messages
    }
}

/// The logic a `QueueWorker` runs for its messages.
///
/// A handler does its own work (a database transaction) and returns what must
/// be published; it does not publish. That lets the worker overlap the next
/// window's transaction with this window's confirms, and still ack nothing
/// before everything it implies is confirmed.
public protocol DeliveryHandler: Sendable {
    /// Processes a window of deliveries (in delivery order). Any error it
    /// throws makes every message of the window a retry.
    func handleBatch(_ deliveries: [AMQPDelivery], logger: Logger) async throws -> HandledWindow

    /// Called after a message went to the DLQ because its retries were spent.
    func retriesExhausted(_ delivery: AMQPDelivery, reason: String, logger: Logger) async
}

extension DeliveryHandler {
    public func retriesExhausted(_ delivery: AMQPDelivery, reason: String, logger: Logger) async {}
}

public struct QueueWorkerConfiguration: Sendable {
    public var amqp: AMQPConfiguration
    public var queues: QueueSet
    public var settings: ConsumeSettings
    /// Written into `x-failed-by`.
    public var workerName: String
    public var reconnectDelay: ClosedRange<Duration>
    /// How often the queue set's depths and consumers are read (``QueueDepthPoller``).
    public var depthPollInterval: Duration

    public init(
        amqp: AMQPConfiguration, queues: QueueSet, settings: ConsumeSettings, workerName: String,
        reconnectDelay: ClosedRange<Duration> = .milliseconds(200)...(.seconds(5)), depthPollInterval: Duration = .seconds(15)
    ) {
        self.amqp = amqp
        self.queues = queues
        self.settings = settings
        self.settings.batchSize = max(1, settings.batchSize)
        self.settings.loops = max(1, settings.loops)
        self.workerName = workerName
        self.reconnectDelay = reconnectDelay
        self.depthPollInterval = depthPollInterval
    }
}

/// Consumes a main queue with manual acks and routes failures: retry queue
/// (retry n to the set's tier min(n, tiers)) with `x-retry-count` + 1, then the DLQ. Each loop owns a connection and
/// reconnects with backoff when the broker goes away; messages that were
/// not acked are redelivered by the broker, so nothing is lost. On graceful
/// shutdown (SIGTERM) the loops stop taking messages, finish the one in
/// hand, and close: unacked prefetched messages go back to the queue.
/// Beside the loops, a ``QueueDepthPoller`` reports the queue set's depths.
public struct QueueWorker: Service {
    public let configuration: QueueWorkerConfiguration
    public let handler: any DeliveryHandler
    public let logger: Logger
    private let metrics: QueueWorkerMetrics

    public init(configuration: QueueWorkerConfiguration, handler: any DeliveryHandler, logger: Logger) {
        self.configuration = configuration
        self.handler = handler
        self.logger = logger
        metrics = QueueWorkerMetrics(queue: configuration.queues.main, publisher: configuration.workerName)
    }

    public func run() async throws {
        let poller = QueueDepthPoller(
            amqp: configuration.amqp, queues: configuration.queues.names, interval: configuration.depthPollInterval, logger: logger)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await poller.run() }
            for index in 0..<configuration.settings.loops {
                group.addTask { await runLoop(index) }
            }
        }
    }

    private func runLoop(_ index: Int) async {
        var logger = logger
        logger[metadataKey: LogKey.loop] = "\(index)"
        var delay = configuration.reconnectDelay.lowerBound
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await session(logger: logger)
                delay = configuration.reconnectDelay.lowerBound
            } catch {
                guard !Task.isShuttingDownGracefully else { break }
                logger.warning("consume session ended; reconnecting", metadata: [LogKey.error: "\(error)", LogKey.retryIn: "\(delay)"])
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, configuration.reconnectDelay.upperBound)
            }
        }
        logger.info("consume loop stopped")
    }

    /// One connection's life: consume on it until the consumer ends, the
    /// connection fails or shutdown begins, then close it (unacked deliveries
    /// go back to the queue).
    private func session(logger: Logger) async throws {
        let connection = try await AMQPConnection.connect(configuration.amqp, logger: logger)
        do {
            try await consume(on: connection, logger: logger)
        } catch {
            await connection.close()
            throw error
        }
        await connection.close()
    }

    private func consume(on connection: AMQPConnection, logger: Logger) async throws {
        let channel = try await connection.openChannel()
        try await channel.setPrefetch(UInt16(clamping: configuration.settings.prefetch))
        let publisher = try await connection.openConfirmChannel()
        let consumer = try await channel.consume(queue: configuration.queues.main)
        logger.info("consuming", metadata: [LogKey.queue: "\(configuration.queues.main)", LogKey.prefetch: "\(configuration.settings.prefetch)"])
        let batcher = DeliveryBatcher()
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await batcher.feed(from: consumer) }
            // The feeder ends with its task; the windows end first.
            defer { group.cancelAll() }
            try await withGracefulShutdownHandler {
                try await handleWindows(from: batcher, channel: channel, consumerTag: consumer.tag, publisher: publisher, logger: logger)
            } onGracefulShutdown: {
                batcher.stop()
            }
        }
    }

    /// Handles windows until the batcher stops or ends. One window may be
    /// finishing (confirms, failure copies, ack) while the next one is
    /// handled: its transaction overlaps those round trips.
    private func handleWindows(
        from batcher: DeliveryBatcher, channel: AMQPChannel, consumerTag: String, publisher: AMQPChannel, logger: Logger
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { finishing in
            do {
                var windowFinishing = false
                let clock = ContinuousClock()
                while true {
                    let waitStart = clock.now
                    // Each delivery gets a valid trace context here (a new trace written into its headers
                    // when it has none): the handler's lines, the messages it implies and the failure
                    // copies then name the same trace.
                    let batch = try await batcher.nextBatch(limit: configuration.settings.batchSize, linger: configuration.settings.linger)
                        .map { $0.startingTraceIfMissing() }
                    if batch.isEmpty || batcher.isStopped {
                        // Stopping: the broker must not refill the prefetch slots the last
                        // window's ack frees. Deliveries it sent anyway go back on close, and
                        // each would count towards the queue's x-delivery-limit.
                        if batcher.isStopped { try? await channel.cancel(consumerTag: consumerTag) }
                        break
                    }
                    let handleStart = clock.now
                    let handled = await handle(batch, logger: logger)
                    let handleEnd = clock.now
                    metrics.handled(batch.count, in: handleEnd - handleStart)
                    if windowFinishing { _ = try await finishing.next() }
                    // Where a window's time goes: waiting for messages, the handler, the previous window's confirms.
                    logger.debug(
                        "window handled",
                        metadata: [
                            LogKey.batch: "\(batch.count)", LogKey.waitMilliseconds: "\((handleStart - waitStart).milliseconds)",
                            LogKey.handleMilliseconds: "\((handleEnd - handleStart).milliseconds)",
                            LogKey.previousMilliseconds: "\((clock.now - handleEnd).milliseconds)",
                        ])
                    finishing.addTask { try await finish(batch, handled, channel: channel, publisher: publisher, logger: logger) }
                    windowFinishing = true
                }
                try await finishing.waitForAll()
            } catch {
                // The window in hand still gets its confirms and ack if the connection lets it.
                while (try? await finishing.next()) != nil {}
                throw error
            }
        }
    }

    /// The handler's verdict on a window; a failure of the handler itself makes every message a retry.
    private func handle(_ batch: [AMQPDelivery], logger: Logger) async -> HandledWindow {
        do {
            let handled = try await handler.handleBatch(batch, logger: logger)
            precondition(handled.outcomes.count == batch.count, "a handler must return one outcome per delivery")
            return handled
        } catch {
            return HandledWindow(outcomes: Array(repeating: .retry(reason: "unexpected-error", message: "\(error)"), count: batch.count))
        }
    }

    /// Publishes what the window implies and its failure copies in one batch,
    /// waits for every confirm, records the messages whose retries are spent,
    /// then acks the window with one multiple ack.
    private func finish(
        _ batch: [AMQPDelivery], _ handled: HandledWindow, channel: AMQPChannel, publisher: AMQPChannel, logger: Logger
    ) async throws {
        var messages = handled.messages
        var exhausted: [(delivery: AMQPDelivery, reason: String, logger: Logger)] = []
        var routes: [(QueueWorkerMetrics.FailureRoute, reason: String)] = []
        for (delivery, outcome) in zip(batch, handled.outcomes) {
            guard let (copy, route, spent) = failureCopy(of: delivery, outcome, logger: logger) else { continue }
            messages.append(copy)
            routes.append(route)
            if let spent { exhausted.append(spent) }
        }
        if !messages.isEmpty {
            let published = ContinuousClock.now
            try await publisher.publish(messages)
            metrics.confirms.confirmed(sentAt: published)
        }
        for (route, reason) in routes { metrics.routed(route, reason: reason) }
        for (delivery, reason, logger) in exhausted { await handler.retriesExhausted(delivery, reason: reason, logger: logger) }
        if let last = batch.last { try await channel.ack(last.deliveryTag, multiple: batch.count > 1) }
        metrics.finished(batch.count)
    }

    /// Where a failed delivery goes (retry queue or DLQ) as the copy to publish,
    /// the route to count once it is confirmed, and, when its retries are spent, what `retriesExhausted` needs once the
    /// copy is confirmed; nil for a delivery that is done.
    private func failureCopy(
        of delivery: AMQPDelivery, _ outcome: DeliveryOutcome, logger: Logger
    ) -> (
        AMQPOutgoingMessage, route: (QueueWorkerMetrics.FailureRoute, reason: String),
        exhausted: (delivery: AMQPDelivery, reason: String, logger: Logger)?
    )? {
        // Most deliveries are done: nothing below is computed for them.
        guard outcome != .done else { return nil }
        var logger = logger
        if let id = delivery.properties.correlationID ?? delivery.properties.messageID { logger[metadataKey: LogKey.orderId] = "\(id)" }
        for (key, value) in delivery.trace.logMetadata { logger[metadataKey: key] = value }
        let retries = FailureHeaders.retryCount(of: delivery.properties)
        func copy(to queue: String, retryCount: Int, reason: String, message: String) -> AMQPOutgoingMessage {
            let properties = FailureHeaders.failureCopy(
                of: delivery.properties, retryCount: retryCount, reason: reason, message: message, originalQueue: configuration.queues.main,
                failedBy: configuration.workerName)
            return AMQPOutgoingMessage(delivery.body, routingKey: queue, mandatory: true, properties: properties)
        }
        switch outcome {
        case .done:
            return nil
        case .retry(let reason, let message):
            switch configuration.settings.retryPolicy.route(retriesSoFar: retries, transient: true) {
            case .retry(let attempt):
                logger.warning("transient failure; retrying", metadata: [LogKey.reason: "\(reason)", LogKey.error: "\(message)", LogKey.attempt: "\(attempt)"])
                return (
                    copy(to: configuration.queues.retryQueue(attempt: attempt), retryCount: attempt, reason: reason, message: message),
                    (.retried, reason), nil
                )
            case .deadLetter:
                logger.error("retries exhausted; dead-lettered", metadata: [LogKey.reason: "\(reason)", LogKey.error: "\(message)", LogKey.retries: "\(retries)"])
                return (
                    copy(to: configuration.queues.deadLetter, retryCount: retries, reason: reason, message: message), (.deadLettered, reason),
                    (delivery, reason, logger)
                )
            }
        case .deadLetter(let reason, let message):
            logger.error("message cannot be processed; dead-lettered", metadata: [LogKey.reason: "\(reason)", LogKey.error: "\(message)"])
            return (copy(to: configuration.queues.deadLetter, retryCount: retries, reason: reason, message: message), (.deadLettered, reason), nil)
        case .postpone(let reason, let message):
            logger.info("postponed; waiting in the retry queue", metadata: [LogKey.reason: "\(reason)", LogKey.error: "\(message)"])
            // No retry is counted, so it waits as long as its last retry did (the first tier when none).
            return (
                copy(to: configuration.queues.retryQueue(attempt: retries), retryCount: retries, reason: reason, message: message), (.postponed, reason),
                nil
            )
        }
    }
}

extension Duration {
    /// Milliseconds with one decimal, for logs.
    public var milliseconds: Double {
        ((Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15) * 10).rounded() / 10
    }
}
