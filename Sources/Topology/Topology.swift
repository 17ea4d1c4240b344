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
/// bind queues of their own to it.
public struct Topology: Sendable, Hashable {
    /// Prepended to every queue name; empty in production, unique per test run.
    public var prefix: String
    /// How long a message waits in a retry queue before going back to its main queue.
    public var retryDelayMilliseconds: Int
    /// Deliveries after which a main queue dead-letters a message to its DLQ.
    public var deliveryLimit: Int

    public init(prefix: String = "", retryDelayMilliseconds: Int = 5_000, deliveryLimit: Int = 10) {
        self.prefix = prefix
        self.retryDelayMilliseconds = retryDelayMilliseconds
        self.deliveryLimit = deliveryLimit
    }

    public static let standard = Topology()

    public var orders: QueueSet {
        QueueSet(main: prefix + "orders_queue", retry: prefix + "orders_retry_queue", deadLetter: prefix + "orders_dlq")
    }

    public var vendorSync: QueueSet {
        QueueSet(main: prefix + "vendor_sync", retry: prefix + "vendor_sync_retry", deadLetter: prefix + "vendor_sync_dlq")
    }

    /// Commands to the payment gateway (authorize, capture, void, refund) for payment-worker.
    public var payments: QueueSet {
        QueueSet(main: prefix + "payments", retry: prefix + "payments_retry", deadLetter: prefix + "payments_dlq")
    }

    /// What the gateway answered (from payment-worker and the Stripe webhook), for
    /// order-worker, which makes every transition.
    public var paymentOutcomes: QueueSet {
        QueueSet(main: prefix + "payment_outcomes", retry: prefix + "payment_outcomes_retry", deadLetter: prefix + "payment_outcomes_dlq")
    }

    public var queueSets: [QueueSet] { [orders, vendorSync, payments, paymentOutcomes] }

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
        queueSets.flatMap { set in
            [
                QueueDefinition(name: set.main, role: .main, arguments: [
                    "x-queue-type": "quorum",
                    "x-delivery-limit": .int64(Int64(deliveryLimit)),
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": .string(set.deadLetter),
                    "x-dead-letter-strategy": "at-least-once",
                    "x-overflow": "reject-publish",
                ]),
                // Without reject-publish, RabbitMQ 3.10 silently falls back to at-most-once dead-lettering.
                QueueDefinition(name: set.retry, role: .retry, arguments: [
                    "x-queue-type": "quorum",
                    "x-message-ttl": .int64(Int64(retryDelayMilliseconds)),
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": .string(set.main),
                    "x-dead-letter-strategy": "at-least-once",
                    "x-overflow": "reject-publish",
                ]),
                QueueDefinition(name: set.deadLetter, role: .deadLetter, arguments: [
                    "x-queue-type": "quorum",
                    "x-delivery-limit": .int64(Self.deadLetterDeliveryLimit),
                ]),
            ]
        }
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
        queueSets.first { [$0.main, $0.retry, $0.deadLetter].contains(queue) }
    }
}

/// The three queues of one stream of work.
public struct QueueSet: Sendable, Hashable {
    public let main: String
    public let retry: String
    public let deadLetter: String
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
