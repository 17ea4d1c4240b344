import AMQP
import Foundation
import Synchronization
import TestSupport
import Testing

/// A subscriber of a test topology's `order_events`, as a downstream service
/// would be: its own queue bound to `order.#`, every delivery recorded and
/// acked. It keeps every copy, so a test can tell duplicates (allowed: at
/// least once) from gaps and strays (not allowed).
final class OrderEventRecorder: Sendable {
    /// One delivery, with what the properties and the body say.
    struct Delivery: Sendable, Hashable {
        let routingKey: String
        let messageId: String?
        let correlationId: String?
        let orderId: UUID?
        let eventId: UUID?
        let sequence: Int?
        let from: String?
        let to: String?
    }

    private let connection: AMQPConnection
    private let queue: String
    private let received = Mutex<[Delivery]>([])
    private let consuming = Mutex<Task<Void, Never>?>(nil)
    private let stopping = Mutex(false)

    /// Binds a fresh exclusive queue to `exchange` (declared here too, as the
    /// durable topic exchange the topology declares, so binding cannot precede it)
    /// and starts consuming.
    static func start(exchange: String, bindingKey: String = "order.#") async throws -> OrderEventRecorder {
        let connection = try await AMQPConnection.connect(url: TestEnvironment.amqpURL, connectionName: "order-event-recorder")
        let channel = try await connection.openChannel()
        try await channel.declareExchange(exchange, type: "topic", durable: true)
        let queue = try await channel.declareQueue(TestEnvironment.uniqueName("events"), durable: false, exclusive: true).name
        try await channel.bindQueue(queue, exchange: exchange, routingKey: bindingKey)
        try await channel.setPrefetch(500)
        let recorder = OrderEventRecorder(connection: connection, queue: queue)
        let consumer = try await channel.consume(queue: queue)
        recorder.consuming.withLock {
            $0 = Task {
                do {
                    for try await delivery in consumer {
                        recorder.received.withLock { $0.append(Self.read(delivery)) }
                        try await channel.ack(delivery.deliveryTag)
                    }
                } catch {
                    if !recorder.stopping.withLock({ $0 }) { Issue.record("the order_events consumer stopped: \(error)") }
                }
            }
        }
        return recorder
    }

    private init(connection: AMQPConnection, queue: String) {
        self.connection = connection
        self.queue = queue
    }

    /// Every delivery so far, in arrival order.
    var deliveries: [Delivery] { received.withLock { $0 } }

    /// Distinct event ids received so far.
    var distinctEventCount: Int { Set(deliveries.compactMap(\.eventId)).count }

    /// Waits until at least `count` distinct events arrived (or `timeout` passed); returns how many did.
    func waitForDistinctEvents(_ count: Int, timeout: Duration) async throws -> Int {
        let deadline = ContinuousClock.now + timeout
        while distinctEventCount < count, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
        }
        return distinctEventCount
    }

    /// Waits until an event of `orderId` with `sequence` arrived; false on timeout.
    func waitForEvent(of orderId: UUID, sequence: Int, timeout: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if deliveries.contains(where: { $0.orderId == orderId && $0.sequence == sequence }) { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    func stop() async {
        stopping.withLock { $0 = true }
        let task = consuming.withLock { $0 }
        task?.cancel()
        await connection.close()
        await task?.value
    }

    /// What is wrong with the deliveries against the committed history of
    /// `orders` (order_transitions, by order): properties that disagree with
    /// the body, copies of an event id that differ, an order whose distinct
    /// events are not exactly its history rows (a gap, a stray from a rolled-back
    /// transaction, a second event for one sequence), first arrivals out of
    /// sequence order, events of orders not in `orders`. Empty when all is well.
    func problems(against orders: [UUID: [HistoryRow]]) -> [String] {
        var problems: [String] = []
        var byEvent: [UUID: Delivery] = [:]
        var firstArrivals: [UUID: [Int]] = [:]
        for delivery in deliveries {
            guard let eventId = delivery.eventId, let orderId = delivery.orderId, let sequence = delivery.sequence else {
                problems.append("an order event without eventId, orderId or sequence: \(delivery)")
                continue
            }
            if delivery.messageId?.lowercased() != eventId.uuidString.lowercased() { problems.append("message_id is not the event id: \(delivery)") }
            if delivery.correlationId?.lowercased() != orderId.uuidString.lowercased() { problems.append("correlation_id is not the order id: \(delivery)") }
            if delivery.routingKey != "order." + (delivery.to ?? "").lowercased() { problems.append("routing key does not name the new state: \(delivery)") }
            if let earlier = byEvent[eventId] {
                if earlier != delivery { problems.append("two copies of event \(eventId) differ: \(earlier) / \(delivery)") }
            } else {
                byEvent[eventId] = delivery
                firstArrivals[orderId, default: []].append(sequence)
            }
        }
        var eventsByOrder: [UUID: Set<HistoryRow>] = [:]
        for delivery in byEvent.values {
            guard let orderId = delivery.orderId, let eventId = delivery.eventId, let sequence = delivery.sequence else { continue }
            eventsByOrder[orderId, default: []].insert(
                HistoryRow(orderId: orderId, sequence: sequence, eventId: eventId, from: delivery.from ?? "", to: delivery.to ?? ""))
        }
        // An order that is not the test's is another test's whose hold this test's
        // sweeper ended (one sweeper per database is the deployment's rule; tests
        // share one): only its reservation-expired cancellation may appear here.
        for orderId in Set(eventsByOrder.keys).subtracting(orders.keys)
        where !eventsByOrder[orderId]!.contains(where: { $0.to == "CANCELLED" && ($0.from == "RESERVED" || $0.from == "PAYMENT_PENDING") }) {
            problems.append("events of order \(orderId), which is not one of the test's: \(eventsByOrder[orderId]!.sorted { $0.sequence < $1.sequence })")
        }
        for (orderId, history) in orders {
            let published = eventsByOrder[orderId] ?? []
            if published != Set(history) {
                let missing = Set(history).subtracting(published).map(\.sequence).sorted()
                let strays = published.subtracting(history).map(\.sequence).sorted()
                problems.append("order \(orderId): sequences \(history.map(\.sequence)) committed; missing on order_events \(missing), published but not committed \(strays)")
            }
            let arrivals = firstArrivals[orderId] ?? []
            if arrivals != arrivals.sorted() { problems.append("order \(orderId): events first arrived in sequence order \(arrivals)") }
        }
        return problems
    }

    private static func read(_ delivery: AMQPDelivery) -> Delivery {
        let body = (try? JSONSerialization.jsonObject(with: Data(delivery.body))) as? [String: Any] ?? [:]
        return Delivery(
            routingKey: delivery.routingKey, messageId: delivery.properties.messageID, correlationId: delivery.properties.correlationID,
            orderId: (body["orderId"] as? String).flatMap(UUID.init(uuidString:)),
            eventId: (body["eventId"] as? String).flatMap(UUID.init(uuidString:)),
            sequence: body["sequence"] as? Int, from: body["from"] as? String, to: body["to"] as? String)
    }
}
