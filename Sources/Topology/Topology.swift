import AMQP

/// The broker topology: the single source of truth for queue names and
/// arguments. `declare`, `verify` and `rabbitmq/definitions.json` all come
/// from here.
///
/// Each stream of work (orders, vendor sync, payment commands, payment
/// outcomes) has three queues: the main
/// queue, a retry queue whose messages wait `retryDelay` and then
/// dead-letter back to the main queue, and a dead-letter queue (DLQ) that
/// keeps what failed for an operator. The worker decides when to retry; the
/// broker only delays. The main queues' delivery limit is a safety net for a
/// message that crashes its consumer again and again.
///
/// Events go to one durable topic exchange, `order_events`; subscribers
/// bind queues of their own to it. fulfilment-worker's queue set is such a
/// subscriber, and backs off exponentially: its retry queues are tiers of
/// growing delay, one queue each, because a per-message TTL in one shared
/// queue would hold every short wait behind the longest one in front of it.
public struct Topology: Sendable, Hashable {
    /// Prepended to every queue name; empty in production, unique per test run.
    public var prefix: String
    /// How long a message waits in a retry queue before going back to its main queue.
    public var retryDelayMilliseconds: Int
    /// Deliveries after which a main queue dead-letters a message to its DLQ.
    public var deliveryLimit: Int
    /// The fulfilment retry tiers' delays, shortest first: retry n waits in
    /// tier min(n, count); the last tier repeats.
    public var fulfilmentRetryDelaysMilliseconds: [Int]
    /// On a cluster, how many nodes hold a replica of each queue
    /// (`x-quorum-initial-group-size`); nil leaves it to the broker and declares
    /// no such argument. RabbitMQ (3.10 and later) compares the argument when a
    /// queue is declared again, in both directions: a queue declared without it
    /// refuses a declare with it (406) and the other way round. So nil is the
    /// single broker's setting, which must keep matching the queues it has, and a
    /// cluster's queues are declared, and verified, with its own number.
    public var quorumInitialGroupSize: Int?

    public init(
        prefix: String = "", retryDelayMilliseconds: Int = 5_000, deliveryLimit: Int = 10,
        fulfilmentRetryDelaysMilliseconds: [Int] = Topology.defaultFulfilmentRetryDelaysMilliseconds,
        quorumInitialGroupSize: Int? = nil
    ) {
        precondition(!fulfilmentRetryDelaysMilliseconds.isEmpty, "the fulfilment queue set needs at least one retry tier")
        precondition(quorumInitialGroupSize.map { $0 >= 1 } ?? true, "a quorum queue needs at least one replica")
        self.prefix = prefix
        self.retryDelayMilliseconds = retryDelayMilliseconds
        self.deliveryLimit = deliveryLimit
        self.fulfilmentRetryDelaysMilliseconds = fulfilmentRetryDelaysMilliseconds
        self.quorumInitialGroupSize = quorumInitialGroupSize
    }

    /// 5 s, 30 s, 5 min: a warehouse hiccup is retried quickly, an outage is not hammered.
    public static let defaultFulfilmentRetryDelaysMilliseconds = [5_000, 30_000, 300_000]

    public static let standard = Topology()

    public var orders: QueueSet {
        queueSet(main: "orders_queue", retry: "orders_retry_queue", deadLetter: "orders_dlq")
    }

    public var vendorSync: QueueSet {
        queueSet(main: "vendor_sync", retry: "vendor_sync_retry", deadLetter: "vendor_sync_dlq")
    }

    /// Commands to the payment gateway (authorize, capture, void, refund) for payment-worker.
    public var payments: QueueSet {
        queueSet(main: "payments", retry: "payments_retry", deadLetter: "payments_dlq")
    }

    /// What the gateway answered (from payment-worker and the Stripe webhook), for
    /// order-worker, which makes every transition.
    public var paymentOutcomes: QueueSet {
        queueSet(main: "payment_outcomes", retry: "payment_outcomes_retry", deadLetter: "payment_outcomes_dlq")
    }

    /// `order.confirmed` events for fulfilment-worker, which sends each order to
    /// the warehouse; retried through `fulfilment_retry_1`, `_2`, … (one per delay tier).
    public var fulfilment: QueueSet {
        QueueSet(
            main: prefix + "fulfilment",
            retryTiers: fulfilmentRetryDelaysMilliseconds.enumerated().map { index, delay in
                RetryTier(name: prefix + "fulfilment_retry_\(index + 1)", delayMilliseconds: delay)
            },
            deadLetter: prefix + "fulfilment_dlq")
    }

    public var queueSets: [QueueSet] { [orders, vendorSync, payments, paymentOutcomes, fulfilment] }

    /// A queue set with one retry queue that waits `retryDelayMilliseconds`.
    private func queueSet(main: String, retry: String, deadLetter: String) -> QueueSet {
        QueueSet(
            main: prefix + main, retryTiers: [RetryTier(name: prefix + retry, delayMilliseconds: retryDelayMilliseconds)],
            deadLetter: prefix + deadLetter)
    }

    /// The subscriptions of this topology's queues to the events exchange.
    public var bindings: [BindingDefinition] {
        [BindingDefinition(queue: fulfilment.main, exchange: orderEvents, routingKey: "order.confirmed")]
    }

    /// The durable topic exchange every committed order transition
    /// (`order.<state>`) and inventory threshold crossing (`inventory.*`) is
    /// published to; subscribers bind their own queues.
    public var orderEvents: String { prefix + "order_events" }

    /// Every exchange the topology declares (the default exchange needs none).
    public var exchanges: [ExchangeDefinition] {
        [ExchangeDefinition(name: orderEvents, type: "topic")]
    }

    /// Every queue with the arguments it must have, in a stable order.
    public var queues: [QueueDefinition] {
        queueSets.flatMap { set -> [QueueDefinition] in
            let main = QueueDefinition(name: set.main, role: .main, arguments: quorum([
                "x-delivery-limit": .int64(Int64(deliveryLimit)),
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": .string(set.deadLetter),
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
            ]))
            // Without reject-publish, RabbitMQ 3.10 silently falls back to at-most-once dead-lettering.
            let retries = set.retryTiers.map { tier in
                QueueDefinition(name: tier.name, role: .retry, arguments: quorum([
                    "x-message-ttl": .int64(Int64(tier.delayMilliseconds)),
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": .string(set.main),
                    "x-dead-letter-strategy": "at-least-once",
                    "x-overflow": "reject-publish",
                ]))
            }
            let deadLetter = QueueDefinition(name: set.deadLetter, role: .deadLetter, arguments: quorum([
                "x-delivery-limit": .int64(Self.deadLetterDeliveryLimit),
            ]))
            return [main] + retries + [deadLetter]
        }
    }

    /// A quorum queue's arguments: its type, its replicas when the topology names them, then `arguments`.
    private func quorum(_ arguments: AMQPTable) -> AMQPTable {
        var all: AMQPTable = ["x-queue-type": "quorum"]
        if let quorumInitialGroupSize { all["x-quorum-initial-group-size"] = .int64(Int64(quorumInitialGroupSize)) }
        return all.merging(arguments) { $1 }
    }

    public var deadLetterQueues: [String] { queueSets.map(\.deadLetter) }

    /// A DLQ's delivery limit: in effect none. Inspecting a DLQ over AMQP takes
    /// each message and puts it back, and every return counts as a delivery
    /// (until RabbitMQ 4.3, where basic.nack no longer counts); a DLQ has no
    /// dead-letter target, so a message over its limit would be dropped.
    /// RabbitMQ 4.x gives quorum queues a limit of 20 when none is declared, and
    /// its "no limit" value, -1, is accepted by 3.10 but read as a limit below
    /// zero: 3.10 drops the message at its first return. The largest signed
    /// 32-bit integer means the same on 3.10 through 4.x and survives a broker
    /// upgrade, which a limit chosen per broker version would not.
    public static let deadLetterDeliveryLimit = Int64(Int32.max)

    /// The queue set a queue name belongs to, if any.
    public func queueSet(containing queue: String) -> QueueSet? {
        queueSets.first { [$0.main, $0.deadLetter].contains(queue) || $0.retryTiers.contains { $0.name == queue } }
    }
}

/// The queues of one stream of work: main, retry tiers, dead letters.
public struct QueueSet: Sendable, Hashable {
    public let main: String
    /// Shortest delay first; most sets have one.
    public let retryTiers: [RetryTier]
    public let deadLetter: String

    public init(main: String, retryTiers: [RetryTier], deadLetter: String) {
        precondition(!retryTiers.isEmpty, "a queue set needs a retry queue")
        self.main = main
        self.retryTiers = retryTiers
        self.deadLetter = deadLetter
    }

    /// The first (for most sets, the only) retry queue.
    public var retry: String { retryTiers[0].name }

    /// Where retry `attempt` (1, 2, …) waits: tier min(attempt, tiers); the last tier repeats.
    public func retryQueue(attempt: Int) -> String {
        retryTiers[min(max(attempt, 1), retryTiers.count) - 1].name
    }
}

/// One retry queue: messages wait `delayMilliseconds` in it, then go back to the main queue.
public struct RetryTier: Sendable, Hashable {
    public let name: String
    public let delayMilliseconds: Int

    public init(name: String, delayMilliseconds: Int) {
        self.name = name
        self.delayMilliseconds = delayMilliseconds
    }
}

/// A queue bound to an exchange with a routing key.
public struct BindingDefinition: Sendable, Hashable {
    public let queue: String
    public let exchange: String
    public let routingKey: String

    public init(queue: String, exchange: String, routingKey: String) {
        self.queue = queue
        self.exchange = exchange
        self.routingKey = routingKey
    }
}

public struct ExchangeDefinition: Sendable, Hashable {
    public let name: String
    public let type: String
    public var durable: Bool { true }
}

public struct QueueDefinition: Sendable, Hashable {
    public enum Role: String, Sendable {
        case main, retry, deadLetter
    }

    public let name: String
    public let role: Role
    public let arguments: AMQPTable
    public var durable: Bool { true }
}
