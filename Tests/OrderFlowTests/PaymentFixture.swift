import AMQP
import Foundation
import OrderCore
import OrderStore
import Postgres
import TestSupport
import Testing

/// The order worker's side of payments without a gateway: the test plays the
/// payment worker, reading the commands the order worker writes to this
/// fixture's `payments` queue and publishing `PaymentOutcome`s to its
/// `payment_outcomes` queue.
extension OrderSystemFixture {
    /// A product (unique id) with stock per vendor, priced at `minor` units of `currency`.
    func product(_ name: String, stock: [String: Int], price minor: Int, _ currency: String = "EUR") throws -> String {
        let id = try product(name, stock: stock)
        try price(id, minor, currency)
        return id
    }

    /// Sets a product's price (minor units of `currency`).
    func price(_ product: String, _ minor: Int, _ currency: String = "EUR") throws {
        try Self.database { connection in
            try connection.query("UPDATE products SET price_minor = $2, currency = $3 WHERE id = $1", [product, minor, currency])
        }
    }

    /// An order that pays with `method` for `lines` (product, quantity).
    func paymentOrder(_ lines: [(String, Int)], method: String = "pm_card_visa") -> OrderPlaced {
        OrderPlaced(
            orderId: UUID(), lines: lines.map { OrderLine(productId: $0.0, quantity: $0.1) }, idempotencyKey: nil, acceptedAt: Date(),
            payment: PaymentRequest(method: method))
    }

    /// What the order worker's routing is for this fixture's queues (the API's commands use the same).
    var routing: OutboxRouting {
        OutboxRouting(
            orderEvents: topology.orderEvents, vendorSyncQueue: topology.vendorSync.main, paymentsQueue: topology.payments.main,
            stockLevels: StockLevelPolicy(threshold: 5))
    }

    /// Publishes an outcome to the payment_outcomes queue, as the payment worker does.
    func send(_ outcome: PaymentOutcome) async throws {
        let message = outcome.outboundMessage(queue: topology.paymentOutcomes.main)
        try await publish(
            [(message.body, AMQPProperties(contentType: "application/json", deliveryMode: .persistent, messageID: message.messageId, type: message.type))],
            to: topology.paymentOutcomes.main)
    }

    /// Waits for `count` commands on the payments queue and takes them (and any more that came).
    func takeCommands(_ count: Int, timeout: Duration = .seconds(60)) async throws -> [PaymentCommand] {
        _ = try await waitForDepth(topology.payments.main, atLeast: count, timeout: timeout)
        return try await drain(topology.payments.main).map { try PaymentCommand.decode($0.body) }
    }

    /// Waits until the worker held the order's stock and takes the authorize command it sent.
    func reserved(_ order: OrderPlaced) async throws -> [PaymentCommand] {
        try await waitForStatus(order.orderId, .reserved)
        return try await takeCommands(1)
    }

    /// Cancels the order as the customer does through the API.
    func cancel(_ order: OrderPlaced) throws -> OrderDetails {
        try Self.database {
            try OrderCommands.cancel(order.orderId, reason: nil, actor: .customer, queuedIfAbsent: false, routing: routing, on: $0)
        }
    }

    /// Waits a moment, then takes whatever commands arrived: none are expected.
    func strayCommands() async throws -> [PaymentCommand] {
        try await Task.sleep(for: .seconds(1))
        return try await drain(topology.payments.main).map { try PaymentCommand.decode($0.body) }
    }

    /// Waits until the order's status is `status`; returns the last status seen.
    @discardableResult
    func waitForStatus(_ order: UUID, _ status: OrderState, timeout: Duration = .seconds(60)) async throws -> String? {
        let deadline = ContinuousClock.now + timeout
        var seen = try statuses([order])[order]
        while seen != status.rawValue, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            seen = try statuses([order])[order]
        }
        #expect(seen == status.rawValue, "order \(order) is \(seen ?? "absent"), expected \(status.rawValue)")
        return seen
    }

    /// The order as `GET /orders/{id}` shows it.
    func details(_ order: UUID) throws -> OrderDetails {
        try require_(try Self.database { try OrderQueries.order(order, on: $0) }, "no order \(order)")
    }

    /// Plays the gateway through a successful payment: the authorize command,
    /// authorized, the capture command, captured. Returns the intent id.
    @discardableResult
    func pay(_ order: OrderPlaced, amount: Money) async throws -> String {
        let intent = "pi_test_\(UUID().uuidString.prefix(8))"
        let authorize = try await reserved(order)
        #expect(authorize.map(\.kind) == [.authorize] && authorize.first?.amount == amount)
        try await send(PaymentOutcome(kind: .authorized, orderId: order.orderId, step: "authorize", intentId: intent, amount: amount))
        try await waitForStatus(order.orderId, .paid)
        let capture = try await takeCommands(1)
        #expect(capture == [PaymentCommand(kind: .capture, orderId: order.orderId, amount: amount, intentId: intent)])
        try await send(PaymentOutcome(kind: .captured, orderId: order.orderId, step: "capture", intentId: intent, amount: amount))
        try await waitForStatus(order.orderId, .confirmed)
        return intent
    }

    /// The order's transitions as (from, to, cause), oldest first.
    func causes(_ order: UUID) throws -> [String] {
        try Self.database { try OrderHistory.transitions(of: order, on: $0) }.map { "\($0.from.rawValue)>\($0.to.rawValue):\($0.cause)" }
    }
}
