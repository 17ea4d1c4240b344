import AMQP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import OrderAPI
import OrderCore
import OrderStore
import Postgres
import ServiceSupport
import StripeAPI
import TestSupport
import Testing

/// An order's `payments` row.
struct PaymentRow: Sendable, Hashable {
    let status: String
    let amount: Int
    let currency: String
    let captured: Int
    let refunded: Int
    let intentId: String?
}

/// What the payment tests need around an OrderSystemFixture: priced products,
/// the payment worker and the order worker as processes (to be SIGKILLed,
/// paused, started again) paying against localstripe, and the payment rows.
extension OrderSystemFixture {
    /// The lifecycle settings plus the gateway: localstripe, a breaker that opens
    /// after 5 failures for 5 s, and calls cut off after 3 s.
    var paymentEnvironment: [String: String] {
        lifecycleWorkerEnvironment.merging([
            "STRIPE_API_BASE": Localstripe.baseURL, "STRIPE_SECRET_KEY": Localstripe.secretKey, "STRIPE_TIMEOUT_MS": "3000",
            "PAYMENT_CONCURRENCY": "16", "PAYMENT_BREAKER_FAILURES": "5", "PAYMENT_BREAKER_OPEN_SECONDS": "5",
        ]) { $1 }
    }

    static let webhookSecret = "whsec_payment_tests_0123456789"

    /// order-api in-process with the payment settings and the webhook secret.
    func withPaymentAPI<T>(_ overrides: [String: String] = [:], _ body: @Sendable (LifecycleClient) async throws -> T) async throws -> T {
        var logger = Logger(label: "test-order-api")
        logger.logLevel = .warning
        let settings = paymentEnvironment.merging(["STRIPE_WEBHOOK_SECRET": Self.webhookSecret]) { $1 }.merging(overrides) { $1 }
        let app = try buildOrderAPI(configuration: try OrderAPIConfiguration(environment: EnvironmentConfiguration(settings)), logger: logger)
        return try await app.test(.router) { client in
            try await body(LifecycleClient(client: client, token: Self.apiToken))
        }
    }

    func startPaymentWorkerProcess(_ overrides: [String: String] = [:]) throws -> ChildProcess {
        try ChildProcess("payment-worker", environment: paymentEnvironment.merging(overrides) { $1 })
    }

    func startOrderWorkerProcess(_ overrides: [String: String] = [:]) throws -> ChildProcess {
        try ChildProcess("order-worker", environment: paymentEnvironment.merging(overrides) { $1 })
    }

    /// A product of this fixture at the vendors with `stock`, priced `minor` EUR cents.
    func pricedProduct(_ name: String, stock: [String: Int], minor: Int, currency: String = "EUR") throws -> String {
        let id = try vendorProduct(name, stock: stock)
        try price(id, minor, currency)
        return id
    }

    /// The `payments` row of each order that has one.
    func payments(_ orders: [UUID]) throws -> [UUID: PaymentRow] {
        guard !orders.isEmpty else { return [:] }
        return try Self.database { connection in
            var rows: [UUID: PaymentRow] = [:]
            for row in try connection.query(
                """
                SELECT order_id, status, amount_minor::int, currency, captured_minor::int, refunded_minor::int, intent_id
                FROM payments WHERE order_id = ANY($1::uuid[])
                """, [Self.arrayParameter(orders.map(\.uuidString))]
            ).rows {
                rows[try row.decode(0)] = PaymentRow(
                    status: try row.decode(1), amount: try row.decode(2), currency: try row.decode(3), captured: try row.decode(4),
                    refunded: try row.decode(5), intentId: try row.decode(6, as: String?.self))
            }
            return rows
        }
    }

    /// Outbox rows bound for this fixture's payments queue.
    func paymentCommandBacklog() throws -> Int {
        try Self.database { connection in
            try connection.query("SELECT count(*)::int FROM outbox WHERE exchange = '' AND routing_key = $1", [topology.payments.main]).singleRow().decode(0)
        }
    }

    /// Waits until `done` holds for every order's status and payment row, and
    /// nothing of this fixture's payments is in motion (queues, outbox); returns
    /// what was still moving at the timeout, or nil.
    func waitForPayments(
        _ orders: [UUID], timeout: Duration, done: @escaping (String?, PaymentRow?) -> Bool
    ) async throws -> String? {
        let deadline = ContinuousClock.now + timeout
        var moving: [String] = []
        repeat {
            moving = []
            let statuses = try statuses(orders), payments = try payments(orders)
            let open = orders.filter { !done(statuses[$0], payments[$0]) }
            if !open.isEmpty {
                let sample = open.prefix(3).map { "\($0): \(statuses[$0] ?? "no row") \(payments[$0].map { "\($0.status) \($0.captured)/\($0.amount)" } ?? "no payment")" }
                moving.append("\(open.count) orders not done (\(sample.joined(separator: "; ")))")
            }
            for queue in [topology.payments.main, topology.payments.retry, topology.paymentOutcomes.main, topology.paymentOutcomes.retry] {
                let depth = try await depth(queue)
                if depth > 0 { moving.append("\(queue): \(depth)") }
            }
            let backlog = try paymentCommandBacklog() + outboxBacklog()
            if backlog > 0 { moving.append("\(backlog) outbox rows") }
            if moving.isEmpty { return nil }
            try await Task.sleep(for: .milliseconds(500))
        } while ContinuousClock.now < deadline
        return moving.joined(separator: ", ")
    }

    /// Messages in every dead-letter queue of this fixture's topology.
    func deadLettered() async throws -> [String: Int] {
        var found: [String: Int] = [:]
        for queue in topology.deadLetterQueues {
            let depth = try await depth(queue)
            if depth > 0 { found[queue] = depth }
        }
        return found
    }
}

/// Polls `condition` every 250 ms until it holds; throws `TimedOut` after `timeout`.
func waitUntil(timeout: Duration, _ what: String = "a condition", _ condition: () throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while try !condition() {
        guard ContinuousClock.now < deadline else { throw TimedOut(what: what) }
        try await Task.sleep(for: .milliseconds(250))
    }
}

struct TimedOut: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting for \(what)" }
}

extension LifecycleClient {
    /// `GET /orders/{id}` as JSON (200 only).
    func order(_ id: UUID) async throws -> [String: Any] {
        let response = try await client.call(.get, "/orders/\(id.uuidString.lowercased())")
        guard response.status == 200 else { throw UnexpectedResponse(route: "GET /orders/{id}", response: response) }
        return response.json
    }

    /// `POST /webhooks/stripe` with a body signed by `secret` now, as Stripe sends it (the
    /// refusals of bad signatures are StripeWebhookTests').
    func stripeWebhook(_ body: String, secret: String) async throws -> HTTPResult {
        let bytes = Array(body.utf8)
        let signature = StripeSignature(secret: secret).header(for: bytes, timestamp: Int64(Date().timeIntervalSince1970))
        return try await client.call(
            .post, "/webhooks/stripe", headers: [.contentType: "application/json", HTTPField.Name("Stripe-Signature")!: signature], body: bytes)
    }
}

/// The money localstripe moved for a set of orders, per order: every intent
/// made for it, and what its charges captured minus what was refunded.
struct GatewayLedger {
    var intents: [UUID: [Localstripe.Intent]] = [:]
    var captured: [UUID: Int] = [:]
    var refunded: [UUID: Int] = [:]
    var capturedIntents: [UUID: Int] = [:]

    init(orders: Set<UUID>) throws {
        var orderOfIntent: [String: UUID] = [:]
        for intent in try Localstripe.intents() {
            guard let text = intent.orderId, let order = UUID(uuidString: text), orders.contains(order) else { continue }
            intents[order, default: []].append(intent)
            orderOfIntent[intent.id] = order
        }
        for charge in try Localstripe.charges() {
            guard let intent = charge.paymentIntent, let order = orderOfIntent[intent], charge.status == "succeeded", charge.captured else { continue }
            captured[order, default: 0] += charge.amount
            capturedIntents[order, default: 0] += 1
            refunded[order, default: 0] += charge.amountRefunded
        }
    }

    /// The same from each order's recorded intent alone (`payment_intents`), one
    /// request per intent: for a few orders, where listing everything localstripe
    /// holds (every test's, ever) would take seconds. The chaos tests list
    /// everything, which also finds an intent nobody recorded.
    init(recorded orders: [UUID]) throws {
        let recorded: [(UUID, String)] = try OrderSystemFixture.database { connection in
            try connection.query(
                "SELECT order_id, intent_id FROM payment_intents WHERE order_id = ANY($1::uuid[])",
                [OrderSystemFixture.arrayParameter(orders.map(\.uuidString))]
            ).rows.map { (try $0.decode(0), try $0.decode(1)) }
        }
        for (order, id) in recorded {
            let object = try Localstripe.intent(id)
            intents[order, default: []].append(Localstripe.Intent(
                id: id, status: object["status"] as? String ?? "", amount: object["amount"] as? Int ?? 0,
                currency: object["currency"] as? String ?? "", orderId: (object["metadata"] as? [String: Any])?["order_id"] as? String))
            guard let charge = object["latest_charge"] as? [String: Any], charge["status"] as? String == "succeeded", charge["captured"] as? Bool == true
            else { continue }
            captured[order, default: 0] += charge["amount"] as? Int ?? 0
            capturedIntents[order, default: 0] += 1
            refunded[order, default: 0] += charge["amount_refunded"] as? Int ?? 0
        }
    }

    /// Captured minus refunded: what the customer paid in the end.
    func net(_ order: UUID) -> Int { (captured[order] ?? 0) - (refunded[order] ?? 0) }
}

// MARK: Playing the payment worker

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

    /// Takes commands until `count` of them are for `orderId`, dropping the
    /// others (other tests' orders this test's sweep ended); fewer when the
    /// timeout runs out first.
    func takeCommands(_ count: Int, of orderId: UUID, timeout: Duration = .seconds(60)) async throws -> [PaymentCommand] {
        let deadline = ContinuousClock.now + timeout
        var commands: [PaymentCommand] = []
        while commands.count < count, ContinuousClock.now < deadline {
            commands += try await drain(topology.payments.main).map { try PaymentCommand.decode($0.body) }.filter { $0.orderId == orderId }
            if commands.count < count { try await Task.sleep(for: .milliseconds(50)) }
        }
        return commands
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
