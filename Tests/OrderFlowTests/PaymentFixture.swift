import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import OrderAPI
import OrderCore
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
        try Self.database { try $0.query("UPDATE products SET price_minor = $2, currency = $3 WHERE id = $1", [id, minor, currency]) }
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

    /// `POST /webhooks/stripe` with a body signed by `secret` at `timestamp` (now by default).
    func stripeWebhook(_ body: String, secret: String, timestamp: Int64? = nil, tamper: Bool = false) async throws -> HTTPResult {
        let bytes = Array(body.utf8)
        let signature = StripeSignature(secret: secret).header(for: bytes, timestamp: timestamp ?? Int64(Date().timeIntervalSince1970))
        var sent = bytes
        if tamper { sent[sent.count / 2] ^= 0x01 }
        return try await client.call(
            .post, "/webhooks/stripe", headers: [.contentType: "application/json", HTTPField.Name("Stripe-Signature")!: signature], body: sent)
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

    /// Captured minus refunded: what the customer paid in the end.
    func net(_ order: UUID) -> Int { (captured[order] ?? 0) - (refunded[order] ?? 0) }
}
