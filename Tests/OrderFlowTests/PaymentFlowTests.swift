import AMQP
import Foundation
import OrderCore
@testable import OrderStore
import Postgres
import TestSupport
import Testing

/// The order worker's side of payments (issue 14), with the test playing the
/// payment worker: the commands it is sent, the outcomes it answers with, and
/// what they do to the order, its stock and its payment.
@Suite(.timeLimit(.minutes(3))) struct PaymentFlowTests {
    /// RESERVED → authorize (the amount from the prices) → PAID → capture →
    /// CONFIRMED: the hold becomes an allocation the vendors are told of, the
    /// payment is CAPTURED; each outcome delivered three times moves the order once.
    @Test func aPaidOrderIsAuthorizedCapturedAndConfirmedOnce() async throws {
        try await OrderSystemFixture.with { system in
            let a = try system.product("pay-a", stock: ["vendorA": 5], price: 1250)
            let b = try system.product("pay-b", stock: ["vendorB": 4], price: 799)
            let order = system.paymentOrder([(a, 1), (b, 2)])
            let amount = Money(minor: 1250 + 2 * 799, currency: "EUR")
            try await system.publish(order)
            try await system.withWorker {
                let authorize = try await system.reserved(order)
                #expect(authorize == [PaymentCommand(kind: .authorize, orderId: order.orderId, amount: amount, method: "pm_card_visa")])
                #expect(try system.stock(of: a) == ["vendorA": 4] && system.stock(of: b) == ["vendorB": 2], "held")
                let pending = try #require(try system.details(order.orderId).payment)
                #expect(pending.method == "pm_card_visa" && pending.status == "PENDING" && pending.intentId == nil && pending.reason == nil)
                #expect(pending.amount == amount && pending.captured == Money(minor: 0, currency: "EUR") && pending.refunded == Money(minor: 0, currency: "EUR"))
                // Every key, null where nothing is known yet: the API's schema lists them all.
                let shown = try JSONSerialization.jsonObject(with: JSONEncoder().encode(pending)) as? NSDictionary
                #expect(Set((shown?.allKeys as? [String]) ?? []) == ["method", "status", "intentId", "amount", "captured", "refunded", "reason"])
                #expect(shown?["intentId"] is NSNull && shown?["reason"] is NSNull)
                let unitPrices: [Int] = try OrderSystemFixture.database { connection in
                    try connection.query("SELECT unit_price_minor FROM order_lines WHERE order_id = $1 ORDER BY line_no", [order.orderId]).rows.map { try $0.decode(0) }
                }
                #expect(unitPrices == [1250, 799])
                // A copy of the order's message (a crash between commit and publish) sends the same authorize again.
                try await system.publish(order)
                #expect(try await system.takeCommands(1) == authorize, "same command, same idempotency key")
                #expect(try system.stock(of: a) == ["vendorA": 4] && system.stock(of: b) == ["vendorB": 2], "held once")

                let intent = "pi_test_confirm"
                let authorized = PaymentOutcome(kind: .authorized, orderId: order.orderId, step: "authorize", intentId: intent, amount: amount)
                for _ in 0..<3 { try await system.send(authorized) }
                try await system.waitForStatus(order.orderId, .paid)
                try await system.waitUntilTaken(system.topology.paymentOutcomes.main)
                #expect(try await system.takeCommands(1) == [PaymentCommand(kind: .capture, orderId: order.orderId, amount: amount, intentId: intent)])

                let captured = PaymentOutcome(kind: .captured, orderId: order.orderId, step: "capture", intentId: intent, amount: amount)
                for _ in 0..<3 { try await system.send(captured) }
                try await system.waitForStatus(order.orderId, .confirmed)
                try await system.waitUntilTaken(system.topology.paymentOutcomes.main)
                #expect(try await system.strayCommands().isEmpty, "a redelivered outcome asks for nothing more")
            }
            #expect(try system.causes(order.orderId) == [
                "QUEUED>RESERVED:stock-reserved", "RESERVED>PAID:payment-authorized", "PAID>CONFIRMED:payment-captured",
            ])
            let details = try system.details(order.orderId)
            #expect(details.payment?.status == "CAPTURED" && details.payment?.captured == amount && details.payment?.intentId == "pi_test_confirm")
            #expect(details.reservedUntil == nil)
            // Committed: taken once, as allocations the vendors are told of.
            #expect(try system.stock(of: a) == ["vendorA": 4] && system.stock(of: b) == ["vendorB": 2])
            let ledger = try system.ledger([a, b])
            #expect(ledger.filter { $0.kind == "allocate" }.map(\.quantity).sorted() == [1, 2])
            #expect(ledger.filter { $0.kind == "release" }.map(\.quantity).sorted() == [1, 2])
            #expect(ledger.reduce(0) { $0 + $1.stockDelta } == -3)
            let reservation = try OrderSystemFixture.database {
                try $0.query("SELECT status FROM reservations WHERE order_id = $1", [order.orderId]).singleRow().decode(0, as: String.self)
            }
            #expect(reservation == "CONSUMED")
            let told = try OrderSystemFixture.movements(in: try await system.drain(system.topology.vendorSync.main).map(\.body))
            #expect(Set(told.map(\.movementId)) == Set(ledger.filter { $0.kind == "allocate" }.map(\.id)))
            #expect(told.allSatisfy { $0.kind == .allocate && $0.orderId == order.orderId })
        }
    }

    /// A decline fails the order with the decline code, gives the held stock
    /// back and voids the intent; the order's message replayed is a duplicate
    /// (no second hold, no second authorization).
    @Test func aDeclineFailsTheOrderReleasesTheHoldAndIsNeverDecidedAgain() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.product("pay-decline", stock: ["vendorA": 3], price: 2400)
            let order = system.paymentOrder([(product, 2)], method: "pm_card_chargeCustomerFail")
            try await system.publish(order)
            try await system.withWorker {
                #expect(try await system.reserved(order).map(\.kind) == [.authorize])
                #expect(try system.stock(of: product) == ["vendorA": 1])
                try await system.send(PaymentOutcome(kind: .declined, orderId: order.orderId, step: "authorize", intentId: "pi_declined", declineCode: "card_declined"))
                try await system.waitForStatus(order.orderId, .failed)
                #expect(try await system.takeCommands(1) == [
                    PaymentCommand(kind: .void, orderId: order.orderId, amount: Money(minor: 4800, currency: "EUR"), intentId: "pi_declined")
                ])
                try await system.publish(order)
                try await system.waitUntilTaken(system.topology.orders.main)
                #expect(try await system.strayCommands().isEmpty, "a replayed declined order is not authorized again")
            }
            #expect(try system.orderRows([order.orderId])[order.orderId]?.reason == "card_declined")
            #expect(try system.stock(of: product) == ["vendorA": 3], "the hold was released once and not taken again")
            #expect(try system.causes(order.orderId) == ["QUEUED>RESERVED:stock-reserved", "RESERVED>FAILED:payment-declined"])
            let payment = try #require(try system.details(order.orderId).payment)
            #expect(payment.status == "DECLINED" && payment.reason == "card_declined" && payment.intentId == "pi_declined")
            #expect(try system.ledger([product]).map(\.kind).sorted() == ["hold", "release"])
        }
    }

    /// The order is cancelled before the gateway answers: the authorization
    /// that arrives later is late, recorded once as CANCELLED → CANCELLED and
    /// voided; the stock is not taken again. (Cancelled by the customer, not
    /// by the reservation timer: every test's sweeper ends any expired hold in
    /// the shared database, and would send the void to its own queues.)
    /// An authorization cancelled outside the system (Stripe's
    /// `payment_intent.canceled`: uncaptured for days, or by hand) fails the PAID
    /// order waiting on it and gives its stock back; nothing is captured or voided again.
    @Test func anIntentCancelledOutsideFailsThePaidOrderAndReleasesItsHold() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.product("pay-canceled", stock: ["vendorA": 4], price: 1000)
            let order = system.paymentOrder([(product, 3)])
            try await system.publish(order)
            try await system.withWorker {
                _ = try await system.reserved(order)
                let amount = Money(minor: 3000, currency: "EUR")
                try await system.send(PaymentOutcome(kind: .authorized, orderId: order.orderId, step: "authorize", intentId: "pi_gone", amount: amount))
                try await system.waitForStatus(order.orderId, .paid)
                #expect(try await system.takeCommands(1).map(\.kind) == [.capture])
                try await system.send(PaymentOutcome(kind: .voided, orderId: order.orderId, step: "webhook", intentId: "pi_gone"))
                try await system.waitForStatus(order.orderId, .failed)
                // The capture already sent comes back refused: not news any more.
                try await system.send(PaymentOutcome(
                    kind: .failed, orderId: order.orderId, step: "capture", intentId: "pi_gone", declineCode: "intent-canceled"))
                #expect(try await system.strayCommands().isEmpty, "nothing to void: the intent is cancelled already")
            }
            #expect(try system.orderRows([order.orderId])[order.orderId]?.reason == "intent-canceled")
            #expect(try system.stock(of: product) == ["vendorA": 4], "the hold was released")
            #expect(try system.causes(order.orderId) == [
                "QUEUED>RESERVED:stock-reserved", "RESERVED>PAID:payment-authorized", "PAID>FAILED:payment-declined",
            ])
            #expect(try system.details(order.orderId).payment?.status == "VOIDED")
        }
    }

    @Test func aLateAuthorizationForACancelledOrderIsVoidedOnce() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.product("pay-late", stock: ["vendorA": 2], price: 500)
            let order = system.paymentOrder([(product, 2)])
            try await system.publish(order)
            try await system.withWorker {
                #expect(try await system.reserved(order).map(\.kind) == [.authorize])
                let cancelled = try system.cancel(order)
                #expect(cancelled.status == .cancelled)
                #expect(try system.stock(of: product) == ["vendorA": 2])
                #expect(try await system.strayCommands().isEmpty, "no intent is known yet: nothing to void")
                let late = PaymentOutcome(
                    kind: .authorized, orderId: order.orderId, step: "authorize", intentId: "pi_late", amount: Money(minor: 1000, currency: "EUR"))
                for _ in 0..<3 { try await system.send(late) }
                #expect(try await system.takeCommands(1) == [
                    PaymentCommand(kind: .void, orderId: order.orderId, amount: Money(minor: 1000, currency: "EUR"), intentId: "pi_late")
                ])
                try await system.waitUntilTaken(system.topology.paymentOutcomes.main)
                #expect(try await system.strayCommands().isEmpty)
                try await system.send(PaymentOutcome(kind: .voided, orderId: order.orderId, step: "void", intentId: "pi_late"))
                try await system.waitUntilTaken(system.topology.paymentOutcomes.main)
            }
            #expect(try system.causes(order.orderId) == [
                "QUEUED>RESERVED:stock-reserved", "RESERVED>CANCELLED:cancel", "CANCELLED>CANCELLED:payment-authorized",
            ])
            #expect(try system.orderRows([order.orderId])[order.orderId]?.reason == "cancelled", "the late payment keeps the state's reason")
            #expect(try system.details(order.orderId).payment?.status == "VOIDED")
            #expect(try system.stock(of: product) == ["vendorA": 2], "not taken twice")
        }
    }

    /// The customer must act (3-D Secure): PAYMENT_PENDING; when the hold
    /// runs out first the sweeper cancels the order and voids the intent. The
    /// hold is expired and swept with this test's routing in one transaction
    /// (any test's sweeper that saw it expired would end it, sending the void
    /// to its own queues); the sweep may take other tests' expired orders too,
    /// so only this order's commands count.
    @Test func anExpiredPendingPaymentIsVoided() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.product("pay-3ds", stock: ["vendorA": 1], price: 4200)
            let order = system.paymentOrder([(product, 1)])
            try await system.publish(order)
            try await system.withWorker {
                _ = try await system.reserved(order)
                try await system.send(PaymentOutcome(kind: .actionRequired, orderId: order.orderId, step: "authorize", intentId: "pi_3ds"))
                try await system.waitForStatus(order.orderId, .paymentPending)
                #expect(try system.details(order.orderId).payment?.status == "REQUIRES_ACTION")
                try OrderSystemFixture.database { connection in
                    try connection.withTransaction { connection in
                        try connection.query("UPDATE reservations SET expires_at = now() - interval '1 second' WHERE order_id = $1", [order.orderId])
                        _ = try Reservations.expireOrderHolds(limit: 1000, routing: system.routing, inTransactionOn: connection)
                    }
                }
                try await system.waitForStatus(order.orderId, .cancelled)
                #expect(try await system.takeCommands(1, of: order.orderId) == [
                    PaymentCommand(kind: .void, orderId: order.orderId, amount: Money(minor: 4200, currency: "EUR"), intentId: "pi_3ds")
                ])
            }
            #expect(try system.causes(order.orderId) == [
                "QUEUED>RESERVED:stock-reserved", "RESERVED>PAYMENT_PENDING:payment-started", "PAYMENT_PENDING>CANCELLED:reservation-expired",
            ])
            #expect(try system.stock(of: product) == ["vendorA": 1])
        }
    }

    /// An outcome that is not one is dead-lettered; one for an order nobody
    /// knows is acked (nothing would ever apply it) and changes nothing.
    @Test func aPoisonOutcomeIsDeadLetteredAndOneForNoOrderIsAcked() async throws {
        try await OrderSystemFixture.with { system in
            let stranger = UUID()
            try await system.publish(
                [(Array(#"{"kind":"authorized","orderId":"nope"}"#.utf8), AMQPProperties(contentType: "application/json", messageID: "poison"))],
                to: system.topology.paymentOutcomes.main)
            try await system.send(PaymentOutcome(kind: .declined, orderId: stranger, step: "authorize", intentId: nil, declineCode: "card_declined"))
            try await system.withWorker {
                #expect(try await system.waitForDepth(system.topology.paymentOutcomes.deadLetter, atLeast: 1) == 1)
                try await system.waitUntilTaken(system.topology.paymentOutcomes.main)
            }
            let dead = try await system.drain(system.topology.paymentOutcomes.deadLetter)
            #expect(dead.map(\.properties.messageID) == ["poison"])
            #expect(try await system.depth(system.topology.paymentOutcomes.retry) == 0)
            #expect(try system.statuses([stranger]).isEmpty)
        }
    }

    /// A capture that completes for an order cancelled meanwhile is refunded
    /// in full; the refund settles once however often it is reported.
    @Test func aLateCaptureIsRefundedInFull() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.product("pay-late-capture", stock: ["vendorA": 2], price: 1999)
            let order = system.paymentOrder([(product, 1)])
            let amount = Money(minor: 1999, currency: "EUR")
            try await system.publish(order)
            try await system.withWorker {
                _ = try await system.reserved(order)
                try await system.send(PaymentOutcome(kind: .authorized, orderId: order.orderId, step: "authorize", intentId: "pi_lc", amount: amount))
                try await system.waitForStatus(order.orderId, .paid)
                #expect(try await system.takeCommands(1).map(\.kind) == [.capture])
                let cancelled = try system.cancel(order)
                #expect(cancelled.status == .cancelled)
                #expect(try await system.takeCommands(1) == [PaymentCommand(kind: .void, orderId: order.orderId, amount: amount, intentId: "pi_lc")])
                #expect(try system.stock(of: product) == ["vendorA": 2])

                try await system.send(PaymentOutcome(kind: .captured, orderId: order.orderId, step: "capture", intentId: "pi_lc", amount: amount))
                let refunds = try await system.takeCommands(1)
                let step = try #require(refunds.first?.step)
                #expect(refunds == [PaymentCommand(kind: .refund, orderId: order.orderId, step: step, amount: amount, intentId: "pi_lc")])
                #expect(step == "refund-\(try system.causes(order.orderId).count)", "named after the late transition")
                let refunded = PaymentOutcome(kind: .refunded, orderId: order.orderId, step: step, intentId: "pi_lc", amount: amount, refundId: "re_1")
                for _ in 0..<3 { try await system.send(refunded) }
                try await system.waitUntilTaken(system.topology.paymentOutcomes.main)
            }
            #expect(try system.causes(order.orderId).suffix(2) == ["PAID>CANCELLED:cancel", "CANCELLED>CANCELLED:payment-captured"])
            let payment = try #require(try system.details(order.orderId).payment)
            #expect(payment.status == "REFUNDED" && payment.captured == amount && payment.refunded == amount)
            #expect(try system.stock(of: product) == ["vendorA": 2])
        }
    }

    /// Cancel after capture restocks and refunds what was captured; a partial
    /// return refunds exactly the returned lines' amount, at the price they were sold at.
    @Test func aCancelAfterCaptureRefundsAllAndAPartialReturnItsLines() async throws {
        try await OrderSystemFixture.with { system in
            let a = try system.product("pay-ret-a", stock: ["vendorA": 10], price: 1250)
            let b = try system.product("pay-ret-b", stock: ["vendorB": 10], price: 799)
            let cancelled = system.paymentOrder([(a, 2)])
            let returned = system.paymentOrder([(a, 1), (b, 3)])
            try await system.withWorker {
                try await system.publish(cancelled)
                try await system.pay(cancelled, amount: Money(minor: 2500, currency: "EUR"))
                try await system.publish(returned)
                try await system.pay(returned, amount: Money(minor: 1250 + 3 * 799, currency: "EUR"))
                // The price changes after the sale: a return refunds what was paid.
                try system.price(b, 5000)

                let afterCancel = try system.cancel(cancelled)
                #expect(afterCancel.status == .cancelled)
                let refund = try await system.takeCommands(1)
                #expect(refund.map(\.kind) == [.refund] && refund.first?.amount == Money(minor: 2500, currency: "EUR"))

                try system.shipAndDeliver(returned.orderId)
                _ = try OrderSystemFixture.database {
                    try OrderCommands.returnItems(
                        returned.orderId, items: [OrderLine(productId: b, quantity: 2)], actor: .operator, routing: system.routing, on: $0)
                }
                let partial = try await system.takeCommands(1)
                #expect(partial.map(\.kind) == [.refund] && partial.first?.amount == Money(minor: 2 * 799, currency: "EUR"))
                // The rest of the line comes back later: its own refund, capped at what is left.
                _ = try OrderSystemFixture.database {
                    try OrderCommands.returnItems(
                        returned.orderId, items: [OrderLine(productId: b, quantity: 1), OrderLine(productId: a, quantity: 1)], actor: .operator,
                        routing: system.routing, on: $0)
                }
                let rest = try await system.takeCommands(1)
                #expect(rest.map(\.amount) == [Money(minor: 799 + 1250, currency: "EUR")])
                #expect(Set((partial + rest).map(\.step)).count == 2, "each return refunds under its own step")
            }
            #expect(try system.stock(of: a) == ["vendorA": 10] && system.stock(of: b) == ["vendorB": 10], "everything restocked")
        }
    }

    /// An order that pays can buy only priced products of one currency:
    /// otherwise it is REJECTED, holds nothing and asks for no payment.
    @Test func anUnpricedOrMixedCurrencyOrderIsRejected() async throws {
        try await OrderSystemFixture.with { system in
            let euro = try system.product("pay-eur", stock: ["vendorA": 5], price: 100, "EUR")
            let dollar = try system.product("pay-usd", stock: ["vendorA": 5], price: 100, "USD")
            let unpriced = try system.product("pay-none", stock: ["vendorA": 5])
            let mixed = system.paymentOrder([(euro, 1), (dollar, 1)])
            let missing = system.paymentOrder([(euro, 1), (unpriced, 1)])
            let free = OrderPlaced(orderId: UUID(), lines: [OrderLine(productId: unpriced, quantity: 1)], idempotencyKey: nil, acceptedAt: Date())
            for order in [mixed, missing, free] { try await system.publish(order) }
            try await system.withWorker {
                _ = try await system.waitForOrders([mixed, missing, free].map(\.orderId))
                #expect(try await system.strayCommands().isEmpty)
            }
            let rows = try system.orderRows([mixed, missing, free].map(\.orderId))
            #expect(rows[mixed.orderId]?.status == "REJECTED" && rows[mixed.orderId]?.reason == "mixed-currency: EUR, USD")
            #expect(rows[missing.orderId]?.status == "REJECTED" && rows[missing.orderId]?.reason == "product-unpriced: \(unpriced)")
            #expect(rows[free.orderId]?.status == "CONFIRMED", "an order without a payment needs no price")
            #expect(try system.details(mixed.orderId).payment == nil)
            #expect(try system.stock(of: euro) == ["vendorA": 5] && system.stock(of: dollar) == ["vendorA": 5])
            #expect(try system.stock(of: unpriced) == ["vendorA": 4])
        }
    }
}
