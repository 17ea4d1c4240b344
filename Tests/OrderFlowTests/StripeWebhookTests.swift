import AMQP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import OrderAPI
import OrderCore
import ServiceSupport
import StripeAPI
import TestSupport
import Testing

/// `POST /webhooks/stripe`: a signed event becomes one message on the
/// payment outcomes queue however often it is delivered; anything unsigned,
/// tampered with or stale changes nothing.
@Suite(.timeLimit(.minutes(2))) struct StripeWebhookTests {
    static let secret = "whsec_test_\(UUID().uuidString)"
    static let signature = StripeSignature(secret: secret)

    private static let quietLogger: Logger = {
        var logger = Logger(label: "test-stripe-webhooks")
        logger.logLevel = .critical
        return logger
    }()

    private func app(_ system: OrderSystemFixture, secret: String? = StripeWebhookTests.secret, _ overrides: [String: String] = [:]) throws -> some ApplicationProtocol {
        var environment = system.environment.merging(overrides) { $1 }
        environment["STRIPE_WEBHOOK_SECRET"] = secret
        return try buildOrderAPI(configuration: OrderAPIConfiguration(environment: EnvironmentConfiguration(environment)), logger: Self.quietLogger)
    }

    /// A PaymentIntent event as Stripe sends it (lower-case currency, metadata.order_id).
    static func event(
        id: String = "evt_\(UUID().uuidString)", type: String, orderId: UUID, intent: String = "pi_\(UUID().uuidString.prefix(12))",
        amount: Int = 1250, extra: String = ""
    ) -> (id: String, body: [UInt8]) {
        let json = """
            {"id":"\(id)","object":"event","type":"\(type)","created":\(Int(Date().timeIntervalSince1970)),\
            "data":{"object":{"id":"\(intent)","object":"payment_intent","amount":\(amount),"currency":"eur",\
            "metadata":{"order_id":"\(orderId.uuidString.lowercased())"}\(extra)}}}
            """
        return (id, Array(json.utf8))
    }

    static func now() -> Int64 { Int64(Date().timeIntervalSince1970) }

    private func deliver(_ body: [UInt8], signature header: String?, to client: some TestClientProtocol) async throws -> HTTPResult {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let header { headers[HTTPField.Name("Stripe-Signature")!] = header }
        return try await client.call(.post, "/webhooks/stripe", headers: headers, body: body)
    }

    /// Delivers `body` signed now with the endpoint's secret.
    private func deliverSigned(_ body: [UInt8], to client: some TestClientProtocol) async throws -> HTTPResult {
        try await deliver(body, signature: Self.signature.header(for: body, timestamp: Self.now()), to: client)
    }

    private func recorded(_ eventIds: [String]) throws -> Int {
        try OrderSystemFixture.database { connection in
            try connection.query(
                "SELECT count(*) FROM stripe_webhook_events WHERE event_id = ANY($1::text[])", [OrderSystemFixture.arrayParameter(eventIds)]
            ).first!.decode(0, as: Int.self)
        }
    }

    @Test func aSignedEventAppliesOnceWhenDeliveredThreeTimes() async throws {
        try await OrderSystemFixture.with { system in
            let orderId = UUID()
            let event = Self.event(
                type: "payment_intent.amount_capturable_updated", orderId: orderId, amount: 2400, extra: #","amount_capturable":2400"#)
            let header = Self.signature.header(for: event.body, timestamp: Self.now())
            let statuses = try await app(system).test(.router) { client in
                var statuses: [String] = []
                for _ in 0..<3 {
                    let response = try await deliver(event.body, signature: header, to: client)
                    #expect(response.status == 200, "\(response.text)")
                    statuses.append(response.json["status"] as? String ?? "")
                }
                return statuses
            }
            #expect(statuses == ["applied", "duplicate", "duplicate"])
            #expect(try recorded([event.id]) == 1)
            let messages = try await system.drain(system.topology.paymentOutcomes.main)
            #expect(messages.count == 1)
            let message = try #require(messages.first)
            #expect(message.properties.messageID == event.id)
            #expect(message.properties.type == PaymentOutcome.messageType)
            #expect(message.properties.isPersistent)
            let outcome = try PaymentOutcome.decode(message.body)
            #expect(outcome.kind == .authorized)
            #expect(outcome.orderId == orderId)
            #expect(outcome.step == "webhook")
            #expect(outcome.amount == Money(minor: 2400, currency: "EUR"))
        }
    }

    /// Three deliveries at once: the second and third wait on the first's row and find it taken.
    @Test func concurrentDeliveriesPublishOnce() async throws {
        try await OrderSystemFixture.with { system in
            let event = Self.event(type: "payment_intent.succeeded", orderId: UUID())
            let header = Self.signature.header(for: event.body, timestamp: Self.now())
            let statuses = try await app(system).test(.router) { client in
                async let first = deliver(event.body, signature: header, to: client)
                async let second = deliver(event.body, signature: header, to: client)
                async let third = deliver(event.body, signature: header, to: client)
                return try await [first, second, third].map { $0.json["status"] as? String ?? "\($0.status)" }
            }
            #expect(statuses.sorted() == ["applied", "duplicate", "duplicate"])
            #expect(try await system.drain(system.topology.paymentOutcomes.main).count == 1)
        }
    }

    @Test func tamperedStaleOrUnsignedDeliveriesAreRefusedAndChangeNothing() async throws {
        try await OrderSystemFixture.with { system in
            let signed = Self.event(type: "payment_intent.succeeded", orderId: UUID(), amount: 1250)
            let tampered = Self.event(id: signed.id, type: "payment_intent.succeeded", orderId: UUID(), amount: 1)
            let stale = Self.event(type: "payment_intent.succeeded", orderId: UUID())
            let otherSecret = Self.event(type: "payment_intent.succeeded", orderId: UUID())
            try await app(system).test(.router) { client in
                let deliveries: [(String, [UInt8], String?)] = [
                    ("tampered body", tampered.body, Self.signature.header(for: signed.body, timestamp: Self.now())),
                    ("stale timestamp", stale.body, Self.signature.header(for: stale.body, timestamp: Self.now() - 301)),
                    ("other secret", otherSecret.body, StripeSignature(secret: "whsec_other").header(for: otherSecret.body, timestamp: Self.now())),
                    ("no signature", stale.body, nil),
                    ("malformed signature", stale.body, "v1=abc"),
                ]
                for (name, body, header) in deliveries {
                    let response = try await deliver(body, signature: header, to: client)
                    #expect(response.status == 400, "\(name): \(response.text)")
                    #expect(response.json["code"] as? String == "invalid-signature", "\(name)")
                }
            }
            #expect(try recorded([signed.id, stale.id, otherSecret.id]) == 0)
            #expect(try await system.depth(system.topology.paymentOutcomes.main) == 0)
        }
    }

    /// Each PaymentIntent event the orders follow, as the outcome the order worker gets.
    @Test func eventsMapToPaymentOutcomes() async throws {
        try await OrderSystemFixture.with { system in
            let orderId = UUID()
            let events = [
                Self.event(type: "payment_intent.amount_capturable_updated", orderId: orderId, amount: 900),
                Self.event(
                    type: "payment_intent.payment_failed", orderId: orderId,
                    extra: #","last_payment_error":{"code":"card_declined","decline_code":"insufficient_funds"}"#),
                Self.event(type: "payment_intent.payment_failed", orderId: orderId, extra: #","last_payment_error":{"code":"card_declined"}"#),
                Self.event(type: "payment_intent.payment_failed", orderId: orderId),
                Self.event(type: "payment_intent.succeeded", orderId: orderId, amount: 1250),
                Self.event(type: "payment_intent.canceled", orderId: orderId),
            ]
            try await app(system).test(.router) { client in
                for event in events {
                    let response = try await deliverSigned(event.body, to: client)
                    #expect(response.json["status"] as? String == "applied", "\(response.text)")
                }
            }
            let outcomes = try await system.drain(system.topology.paymentOutcomes.main).map { try PaymentOutcome.decode($0.body) }
            #expect(outcomes.map(\.kind) == [.authorized, .declined, .declined, .declined, .captured, .voided])
            #expect(outcomes.map(\.declineCode) == [nil, "insufficient_funds", "card_declined", "payment_failed", nil, nil])
            #expect(outcomes[0].amount == Money(minor: 900, currency: "EUR"))
            #expect(outcomes[4].amount == Money(minor: 1250, currency: "EUR"))
            #expect(Set(outcomes.map(\.orderId)) == [orderId])
            #expect(Set(outcomes.map(\.step)) == ["webhook"])
        }
    }

    /// Events the orders do not follow, or that name no order, are answered 200 and taken nowhere.
    @Test func eventsOfNoOrderAreIgnored() async throws {
        try await OrderSystemFixture.with { system in
            let other = Self.event(type: "charge.succeeded", orderId: UUID())
            let noOrder = Self.event(type: "payment_intent.succeeded", orderId: UUID())
            let noOrderBody = Array(String(decoding: noOrder.body, as: UTF8.self).replacingOccurrences(of: "order_id", with: "cart_id").utf8)
            try await app(system).test(.router) { client in
                for body in [other.body, noOrderBody] {
                    let response = try await deliverSigned(body, to: client)
                    #expect(response.status == 200)
                    #expect(response.json["status"] as? String == "ignored")
                }
            }
            #expect(try recorded([other.id, noOrder.id]) == 0)
            #expect(try await system.depth(system.topology.paymentOutcomes.main) == 0)
        }
    }

    /// A publish the broker refuses (here: no outcomes queue to route to) rolls the
    /// event's row back, so Stripe's next delivery is taken; a database that is down is a 503 too.
    @Test func anEventThatCannotBeTakenIs503AndLeavesNoRow() async throws {
        try await OrderSystemFixture.with { system in
            let event = Self.event(type: "payment_intent.succeeded", orderId: UUID())
            let unroutable = ["QUEUE_PREFIX": system.prefix + "nowhere."]
            let databaseDown = ["DATABASE_URL": "postgres://orders:orders@127.0.0.1:1/ordersdb_test?connect_timeout=2"]
            for (overrides, code) in [(unroutable, "broker-unavailable"), (databaseDown, "database-unavailable")] {
                try await app(system, overrides).test(.router) { client in
                    let response = try await deliverSigned(event.body, to: client)
                    #expect(response.status == 503, "\(response.text)")
                    #expect(response.json["code"] as? String == code)
                    #expect(response.headers[.retryAfter] != nil)
                }
                #expect(try recorded([event.id]) == 0, "\(code)")
            }
            #expect(try await system.depth(system.topology.paymentOutcomes.main) == 0)

            // Taken once the broker and the database can take it.
            try await app(system).test(.router) { client in
                let response = try await deliverSigned(event.body, to: client)
                #expect(response.json["status"] as? String == "applied", "\(response.text)")
            }
            #expect(try recorded([event.id]) == 1)
            #expect(try await system.depth(system.topology.paymentOutcomes.main) == 1)
        }
    }

    @Test func withoutASecretWebhooksAreRefused() async throws {
        try await OrderSystemFixture.with { system in
            let event = Self.event(type: "payment_intent.succeeded", orderId: UUID())
            try await app(system, secret: nil).test(.router) { client in
                let response = try await deliverSigned(event.body, to: client)
                #expect(response.status == 503)
                #expect(response.json["code"] as? String == "webhooks-not-configured")
            }
            #expect(try recorded([event.id]) == 0)
        }
    }
}
