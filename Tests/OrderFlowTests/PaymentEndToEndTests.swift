import Foundation
import OrderCore
import TestSupport
import Testing

/// Orders that pay, end to end against localstripe: order-api and order-worker
/// in-process, payment-worker as its process, vendor-sync in-process. Every
/// amount is checked to the cent in our rows and in localstripe's charges and
/// refunds (issue 14, must-show 4, and the 3-D Secure path through the webhook).
@Suite(.timeLimit(.minutes(3)))
struct PaymentEndToEndTests {
    typealias Item = LifecycleClient.Item

    /// Runs the whole payment path for `body`: API, order worker, payment worker, vendor sync.
    static func withPayments(_ body: @Sendable (OrderSystemFixture, LifecycleClient) async throws -> Void) async throws {
        try await OrderSystemFixture.with(retryDelayMilliseconds: 1000) { system in
            let paymentWorker = try system.startPaymentWorkerProcess()
            defer { paymentWorker.kill(SIGKILL) }
            try await system.withVendorSync {
                try await system.withWorker(system.paymentEnvironment) {
                    try await system.withPaymentAPI { api in try await body(system, api) }
                }
            }
            paymentWorker.kill(SIGTERM)
            #expect(await paymentWorker.waitForExit() == 0, "payment-worker exits 0 on SIGTERM: \(paymentWorker.log.suffix(400))")
        }
    }

    static func waitFor(_ system: OrderSystemFixture, _ order: UUID, status: String, payment: String) async throws {
        try await waitUntil(timeout: .seconds(60), "order \(order) \(status) with payment \(payment)") {
            try system.statuses([order])[order] == status && system.payments([order])[order]?.status == payment
        }
    }

    @Test func aCancelAfterCaptureRefundsTheFullAmountAndRestocks() async throws {
        try await Self.withPayments { system, api in
            let first = try system.pricedProduct("payc1", stock: ["vendorA": 10], minor: 1250)
            let second = try system.pricedProduct("payc2", stock: ["vendorB": 10], minor: 799)
            let order = try await api.placeOrder([Item(productId: first, quantity: 2), Item(productId: second, quantity: 1)], paymentMethod: "pm_card_visa")
            try await Self.waitFor(system, order, status: "CONFIRMED", payment: "CAPTURED")
            let amount = 2 * 1250 + 799
            let shown = try await api.order(order)
            let payment = try #require(shown["payment"] as? [String: Any], "GET /orders/{id} shows the payment: \(shown)")
            #expect(payment["status"] as? String == "CAPTURED" && payment["method"] as? String == "pm_card_visa")
            #expect((payment["amount"] as? [String: Any])?["minor"] as? Int == amount && (payment["amount"] as? [String: Any])?["currency"] as? String == "EUR")
            #expect((payment["captured"] as? [String: Any])?["minor"] as? Int == amount)
            #expect((payment["intentId"] as? String)?.hasPrefix("pi_") == true)
            #expect(try system.stock(of: first) == ["vendorA": 8] && system.stock(of: second) == ["vendorB": 9])

            let cancelled = try await api.cancel(order, reason: "changed my mind")
            #expect(cancelled.succeeded, "\(cancelled.status) \(cancelled.text)")
            try await Self.waitFor(system, order, status: "CANCELLED", payment: "REFUNDED")
            let row = try #require(try system.payments([order])[order])
            #expect(row.captured == amount && row.refunded == amount, "refunded \(row.refunded) of \(row.captured)")
            let ledger = try GatewayLedger(recorded: [order])
            #expect(ledger.captured[order] == amount && ledger.refunded[order] == amount, "localstripe: \(ledger.captured[order] ?? 0) captured, \(ledger.refunded[order] ?? 0) refunded")
            #expect(try system.stock(of: first) == ["vendorA": 10] && system.stock(of: second) == ["vendorB": 10], "the units came back")
        }
    }

    @Test func aPartialReturnRefundsExactlyTheReturnedLinesAmount() async throws {
        try await Self.withPayments { system, api in
            let first = try system.pricedProduct("payr1", stock: ["vendorA": 10], minor: 1250)
            let second = try system.pricedProduct("payr2", stock: ["vendorA": 10], minor: 799)
            let order = try await api.placeOrder([Item(productId: first, quantity: 3), Item(productId: second, quantity: 2)], paymentMethod: "pm_card_visa")
            try await Self.waitFor(system, order, status: "CONFIRMED", payment: "CAPTURED")
            let amount = 3 * 1250 + 2 * 799
            try system.shipAndDeliver(order)

            let returned = try await api.returnItems(order, [Item(productId: first, quantity: 2)])
            #expect(returned.succeeded, "\(returned.status) \(returned.text)")
            try await waitUntil(timeout: .seconds(60), "the first refund") { try system.payments([order])[order]?.refunded == 2 * 1250 }
            #expect(try GatewayLedger(recorded: [order]).refunded[order] == 2 * 1250, "localstripe refunded the two returned units")
            #expect(try system.payments([order])[order]?.status == "CAPTURED", "partly refunded: still captured")

            let rest = try await api.returnItems(order, [Item(productId: first, quantity: 1), Item(productId: second, quantity: 2)])
            #expect(rest.succeeded, "\(rest.status) \(rest.text)")
            try await Self.waitFor(system, order, status: "RETURNED", payment: "REFUNDED")
            let row = try #require(try system.payments([order])[order])
            #expect(row.captured == amount && row.refunded == amount)
            let ledger = try GatewayLedger(recorded: [order])
            #expect(ledger.captured[order] == amount && ledger.refunded[order] == amount && ledger.net(order) == 0)
            #expect(try system.stock(of: first) == ["vendorA": 10] && system.stock(of: second) == ["vendorA": 10])
        }
    }

    @Test func aDeclinedCardFailsTheOrderReleasesTheHoldAndChargesNothing() async throws {
        try await Self.withPayments { system, api in
            let product = try system.pricedProduct("payd", stock: ["vendorA": 5], minor: 2400)
            let order = try await api.placeOrder([Item(productId: product, quantity: 2)], paymentMethod: "pm_card_chargeCustomerFail")
            try await waitUntil(timeout: .seconds(60), "the order FAILED") { try system.statuses([order])[order] == "FAILED" }
            #expect(try system.orderRows([order])[order]?.reason == "card_declined")
            #expect(try system.stock(of: product) == ["vendorA": 5], "the hold was released")
            let ledger = try GatewayLedger(recorded: [order])
            #expect(ledger.net(order) == 0 && ledger.capturedIntents[order] == nil)
            #expect(try system.payments([order])[order]?.captured == 0)
        }
    }

    /// A card that asks for 3-D Secure: PAYMENT_PENDING until Stripe says, by
    /// webhook, that the amount is capturable (localstripe sends no such event,
    /// so the test delivers it, signed, three times as Stripe may); the order is
    /// then PAID once, captured and CONFIRMED.
    @Test func aThreeDSecurePaymentCompletesThroughTheSignedWebhookAppliedOnce() async throws {
        try await Self.withPayments { system, api in
            let product = try system.pricedProduct("pay3ds", stock: ["vendorA": 5], minor: 1999)
            let method = try Localstripe.cardPaymentMethod(number: "4000002760003184")
            let order = try await api.placeOrder([Item(productId: product, quantity: 1)], paymentMethod: method)
            try await Self.waitFor(system, order, status: "PAYMENT_PENDING", payment: "REQUIRES_ACTION")
            let intent = try #require(try system.payments([order])[order]?.intentId)
            #expect(try Localstripe.authenticate(intent: intent) == "requires_capture")

            let event = """
                {"id":"evt_\(UUID().uuidString.lowercased())","object":"event","type":"payment_intent.amount_capturable_updated",\
                "data":{"object":{"id":"\(intent)","object":"payment_intent","amount":1999,"amount_capturable":1999,"currency":"eur",\
                "status":"requires_capture","metadata":{"order_id":"\(order.uuidString.lowercased())"}}}}
                """
            for _ in 0..<3 {
                let response = try await api.stripeWebhook(event, secret: OrderSystemFixture.webhookSecret)
                #expect(response.status == 200, "\(response.status) \(response.text)")
            }
            try await Self.waitFor(system, order, status: "CONFIRMED", payment: "CAPTURED")
            let history = try system.history(of: [order])[order] ?? []
            #expect(history.map { "\($0.from)>\($0.to)" } == ["QUEUED>RESERVED", "RESERVED>PAYMENT_PENDING", "PAYMENT_PENDING>PAID", "PAID>CONFIRMED"],
                    "one transition per step, the webhook applied once: \(history)")
            #expect(try GatewayLedger(recorded: [order]).net(order) == 1999)
        }
    }
}
