import AMQP
import Logging
import ServiceSupport
import OrderCore
import ServiceLifecycle
import Topology

/// What a handler decided about one delivery.
public indirect enum DeliveryOutcome: Sendable, Hashable {
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
    /// A message that carries many units of work whose outcomes differ (a
    /// batch of movements): each part is published as its own message to
    /// where its outcome sends it, exactly as a delivery with that outcome
    /// would be (retry count, DLQ, `retriesExhausted` per part), and the
    /// delivery is acked once they are confirmed. The units not listed are done.
    /// So one poison unit never holds its batch-mates hostage.
    case split([DeliveryPart])
}

/// A part of a delivery that is split: its own body and properties (the
/// delivery's, with the part's message id, type or trace where they differ)
/// and its outcome (neither `.done` nor `.split`).
public struct DeliveryPart: Sendable, Hashable {
    public var body: [UInt8]
    public var properties: AMQPProperties
    public var outcome: DeliveryOutcome

    public init(body: [UInt8], properties: AMQPProperties, outcome: DeliveryOutcome) {
        self.body = body
        self.properties = properties
        self.outcome = outcome
    }
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
    /// Processes a window of deliveries (in delivery order). Throwing
    /// ``DependencyUnavailable`` holds the window and hands it over again
    /// once the backoff passed; any other error it throws makes every message
    /// of the window a retry.
    func handleBatch(_ deliveries: [AMQPDelivery], logger: Logger) async throws -> HandledWindow

    /// Called for a message whose retries are spent, before its copy is
    /// published to the DLQ and the window acked, so what it records (an
    /// order marked FAILED) is there exactly when the message is in the DLQ;
    /// it may run again for the same message (a redelivery), so it must be
    /// idempotent. Throwing ``DependencyUnavailable`` holds the window, as
    /// from `handleBatch`, and calls it again later; it handles (logs) any
    /// other error itself.
    func retriesExhausted(_ delivery: AMQPDelivery, reason: String, logger: Logger) async throws
}

extension DeliveryHandler {
    public func retriesExhausted(_ delivery: AMQPDelivery, reason: String, logger: Logger) async throws {}
}

public struct QueueWorkerConfiguration: Sendable {
    public var amqp: AMQPConfiguration
    public var queues: QueueSet
    public var settings: ConsumeSettings
    /// Written into `x-failed-by`.
    public var workerName: String
    /// The bounds of the (``Backoff``) waits between reconnects to the broker.
    public var reconnectDelay: ClosedRange<Duration>
    /// The bounds of the (``Backoff``) waits before a window held for a
    /// dependency that was away (``DependencyUnavailable``) is handed over again.
    public var outageBackoff: ClosedRange<Duration>
    /// Where the loops report the dependencies they wait for (the process's, which its `/health/ready` reads).
    public var status: DependencyStatus
    /// How often the queue set's depths and consumers are read (``QueueDepthPoller``).
    public var depthPollInterval: Duration

    public init(
        amqp: AMQPConfiguration, queues: QueueSet, settings: ConsumeSettings, workerName: String, status: DependencyStatus = .process,
        reconnectDelay: ClosedRange<Duration> = .milliseconds(200)...(.seconds(5)),
        outageBackoff: ClosedRange<Duration> = .milliseconds(100)...(.seconds(5)), depthPollInterval: Duration = .seconds(15)
    ) {
        self.amqp = amqp
        self.queues = queues
        self.settings = settings
        self.settings.batchSize = max(1, settings.batchSize)
        self.settings.loops = max(1, settings.loops)
        self.workerName = workerName
        self.reconnectDelay = reconnectDelay
        self.outageBackoff = outageBackoff
        self.status = status
        self.depthPollInterval = depthPollInterval
    }
}

/// Consumes a main queue with manual acks and routes failures: retry queue
/// (retry n to the set's tier min(n, tiers)) with `x-retry-count` + 1, then the DLQ. Each loop owns a connection and
/// reconnects with backoff when the broker goes away; messages that were
/// not acked are redelivered by the broker, so nothing is lost. On graceful
/// shutdown (SIGTERM) the loops stop taking messages, finish the one in
/// hand, and close: unacked prefetched messages go back to the queue.
///
/// A window whose handler finds a dependency of the whole window away
/// (``DependencyUnavailable``) is held: its deliveries stay unacked and in
/// hand (a nack or a return would count towards the queue's delivery limit
/// and could reorder them), the loop takes no further window (the prefetch
/// bounds what the broker sends meanwhile), and the same window goes to the
/// handler again after a capped, jittered backoff (``Backoff``) until it
/// goes through. No retry is counted and nothing reaches the DLQ; the
/// dependency is on the ``DependencyStatus`` meanwhile, and the outage is
/// logged when it starts and when it ends.
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
        var backoff = Backoff(configuration.reconnectDelay)
        // A lost broker is on /health/ready, like a lost database, from the
        // session's end until a new one consumes.
        var outage = OutageTracker(status: configuration.status)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await session(logger: logger) { outage.available(logger: logger) }
                backoff = Backoff(configuration.reconnectDelay)
            } catch {
                guard !Task.isShuttingDownGracefully else { break }
                let delay = backoff.next()
                logger.warning("consume session ended; reconnecting", metadata: [LogKey.error: "\(error)", LogKey.retryIn: "\(delay)"])
                if let error = error as? AMQPError, error.isConnectionDead {
                    outage.unavailable(Self.broker, detail: "\(error)", holding: "reconnecting", logger: logger)
                }
                try? await Task.sleep(for: delay)
            }
        }
        outage.abandon()
        logger.info("consume loop stopped")
    }

    /// The name a queue worker reports the broker by while it has no connection to consume on.
    public static let broker = "broker"

    /// One connection's life: consume on it until the consumer ends, the
    /// connection fails or shutdown begins, then close it (unacked deliveries
    /// go back to the queue). `consuming` is called once the consumer is set up.
    private func session(logger: Logger, consuming: () -> Void) async throws {
        let connection = try await AMQPConnection.connect(configuration.amqp, logger: logger)
        do {
            try await consume(on: connection, logger: logger, consuming: consuming)
        } catch {
            await connection.close()
            throw error
        }
        await connection.close()
    }

    private func consume(on connection: AMQPConnection, logger: Logger, consuming: () -> Void) async throws {
        let channel = try await connection.openChannel()
        try await channel.setPrefetch(UInt16(clamping: configuration.settings.prefetch))
        let publisher = try await connection.openConfirmChannel()
        let consumer = try await channel.consume(queue: configuration.queues.main)
        consuming()
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
                    let prepared = try await prepare(batch, batcher: batcher, logger: logger)
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
                    finishing.addTask { try await finish(batch, prepared, channel: channel, publisher: publisher, logger: logger) }
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

    /// What finishing a window publishes (the messages it implies and its
    /// failure copies) and the failure routes to count once they are confirmed.
    private struct PreparedWindow: Sendable {
        var messages: [AMQPOutgoingMessage]
        var routes: [(QueueWorkerMetrics.FailureRoute, reason: String)]
    }

    /// The handler's verdict on a window and its failure copies, after
    /// `retriesExhausted` recorded the messages whose retries are spent.
    /// Both wait out an outage of a dependency the window needs.
    private func prepare(_ batch: [AMQPDelivery], batcher: DeliveryBatcher, logger: Logger) async throws -> PreparedWindow {
        let handled = try await waitingOutOutages(batcher: batcher, logger: logger) { try await handle(batch, logger: logger) }
        var prepared = PreparedWindow(messages: handled.messages, routes: [])
        func route(_ delivery: AMQPDelivery, _ outcome: DeliveryOutcome) async throws {
            guard let (copy, route, spent) = failureCopy(of: delivery, outcome, logger: logger) else { return }
            if let spent {
                try await waitingOutOutages(batcher: batcher, logger: spent.logger) {
                    try await handler.retriesExhausted(spent.delivery, reason: spent.reason, logger: spent.logger)
                }
            }
            prepared.messages.append(copy)
            prepared.routes.append(route)
        }
        for (delivery, outcome) in zip(batch, handled.outcomes) {
            guard case .split(let parts) = outcome else {
                try await route(delivery, outcome)
                continue
            }
            // Each part goes where a delivery of its own would: the same copy, counts and checks.
            for part in parts {
                precondition(part.outcome != .done, "a split lists only the parts that are not done")
                let piece = AMQPDelivery(
                    deliveryTag: delivery.deliveryTag, redelivered: delivery.redelivered, exchange: delivery.exchange, routingKey: delivery.routingKey,
                    properties: part.properties, body: part.body, messagesRemaining: delivery.messagesRemaining)
                try await route(piece, part.outcome)
            }
        }
        return prepared
    }

    /// The handler's verdict on a window; a failure of the handler itself
    /// makes every message a retry, except a dependency that is away.
    private func handle(_ batch: [AMQPDelivery], logger: Logger) async throws(DependencyUnavailable) -> HandledWindow {
        do {
            let handled = try await handler.handleBatch(batch, logger: logger)
            precondition(handled.outcomes.count == batch.count, "a handler must return one outcome per delivery")
            return handled
        } catch let unavailable as DependencyUnavailable {
            throw unavailable
        } catch {
            return HandledWindow(outcomes: Array(repeating: .retry(reason: "unexpected-error", message: "\(error)"), count: batch.count))
        }
    }

    /// Runs `attempt` until it does not throw ``DependencyUnavailable``, with
    /// a ``Backoff`` between tries, the dependency on the status meanwhile.
    /// Ends early, throwing, on graceful shutdown or when the consumer ended
    /// (the broker connection is lost): the window in hand goes back to the
    /// queue with the connection.
    private func waitingOutOutages<T>(
        batcher: DeliveryBatcher, logger: Logger, _ attempt: () async throws -> T
    ) async throws -> T {
        var backoff = Backoff(configuration.outageBackoff)
        var outage = OutageTracker(status: configuration.status)
        do {
            while true {
                do {
                    let result = try await attempt()
                    outage.available(logger: logger)
                    return result
                } catch let unavailable as DependencyUnavailable {
                    outage.unavailable(
                        unavailable.dependency, detail: unavailable.detail, holding: "holding the window until it is back", logger: logger)
                    let delay = backoff.next()
                    try await cancelWhenGracefulShutdown { try await Task.sleep(for: delay) }
                    if Task.isShuttingDownGracefully { throw CancellationError() }
                    try batcher.checkConsumer()
                }
            }
        } catch {
            outage.abandon()
            throw error
        }
    }

    /// Publishes what the window implies and its failure copies in one batch,
    /// waits for every confirm, then acks the window with one multiple ack.
    private func finish(
        _ batch: [AMQPDelivery], _ prepared: PreparedWindow, channel: AMQPChannel, publisher: AMQPChannel, logger: Logger
    ) async throws {
        if !prepared.messages.isEmpty {
            let published = ContinuousClock.now
            try await publisher.publish(prepared.messages)
            metrics.confirms.confirmed(sentAt: published)
        }
        for (route, reason) in prepared.routes { metrics.routed(route, reason: reason) }
        if let last = batch.last { try await channel.ack(last.deliveryTag, multiple: batch.count > 1) }
        metrics.finished(batch.count)
    }

    /// Where a failed delivery goes (retry queue or DLQ) as the copy to publish,
    /// the route to count once it is confirmed, and, when its retries are spent, what `retriesExhausted` needs before the
    /// copy is published; nil for a delivery that is done.
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
        case .split:
            preconditionFailure("a split's parts are routed one by one, and a part is never split")
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
