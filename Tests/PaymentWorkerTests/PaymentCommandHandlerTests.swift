import Foundation
import Messaging
import OrderCore
import PaymentWorker
import StripeAPI
import Synchronization
import Testing

/// Each command against the live localstripe, delivered once and again: the
/// outcome it answers, and what the gateway holds afterwards.
@Suite(.timeLimit(.minutes(2))) struct PaymentCommandHandlerTests {
    @Test func aVisaAuthorizationIsAuthorizedForTheAmountWithTheIntentRecorded() async throws {
        try await PaymentWorkerFixture.with { fixture in
            let order = fixture.order()
            let outcome = try await fixture.execute(fixture.authorize(order, amount: 2049))
            #expect(outcome.kind == .authorized)
            #expect(outcome.amount == Money(minor: 2049, currency: "EUR"))
            #expect(outcome.step == "authorize")
            let intent = try #require(outcome.intentId)
            #expect(try await fixture.recordedIntents(order) == [intent])
            let atGateway = try await fixture.gateway.retrievePaymentIntent(intent)
            #expect(atGateway.status == .requiresCapture)
            #expect(atGateway.amount == 2049)
            #expect(atGateway.currency == "eur")
            #expect(atGateway.metadata["order_id"] == order.uuidString.lowercased())
        }
    }

    @Test func aRedeliveredAuthorizationAnswersWithTheSameIntent() async throws {
        try await PaymentWorkerFixture.with { fixture in
            let order = fixture.order()
            let first = try await fixture.execute(fixture.authorize(order))
            let second = try await fixture.execute(fixture.authorize(order))
            #expect(first.kind == .authorized)
            #expect(second == first)
            #expect(try await fixture.recordedIntents(order).count == 1)
            let intent = try await fixture.gateway.retrievePaymentIntent(try #require(first.intentId))
            #expect(intent.status == .requiresCapture, "confirmed once: a second confirm would have been refused")
            #expect(intent.latestCharge?.amount == 1250)
        }
    }

    /// Two deliveries of one authorize at once: one intent stands, both answer with it.
    @Test func concurrentDeliveriesOfOneAuthorizationShareOneIntent() async throws {
        try await PaymentWorkerFixture.with { fixture in
            let order = fixture.order()
            let command = fixture.authorize(order)
            async let first = fixture.execute(command)
            async let second = fixture.execute(command)
            let (a, b) = try await (first, second)
            #expect(a.intentId == b.intentId)
            #expect(a.kind == .authorized)
            #expect(b.kind == .authorized)
            #expect(try await fixture.recordedIntents(order) == [try #require(a.intentId)])
        }
    }

    @Test func aDecliningCardIsDeclinedWithItsCodeAgainOnRedelivery() async throws {
        try await PaymentWorkerFixture.with { fixture in
            let order = fixture.order()
            let command = fixture.authorize(order, method: "pm_card_chargeCustomerFail")
            let first = try await fixture.execute(command)
            #expect(first.kind == .declined)
            #expect(first.declineCode == "card_declined")
            let again = try await fixture.execute(command)
            #expect(again.kind == .declined)
            #expect(again.declineCode == "card_declined")
            #expect(again.intentId == first.intentId)
            #expect(try await fixture.recordedIntents(order).count == 1)
        }
    }

    @Test func aCaptureDeliveredTwiceCapturesOnce() async throws {
        try await PaymentWorkerFixture.with { fixture in
            let order = fixture.order()
            let intent = try await fixture.authorized(order, amount: 3199)
            let capture = fixture.command(.capture, order, intent: intent, amount: 3199)
            let first = try await fixture.execute(capture)
            let second = try await fixture.execute(capture)
            #expect(first.kind == .captured)
            #expect(first.amount == Money(minor: 3199, currency: "EUR"))
            #expect(second == first)
            let charge = try #require(try await fixture.gateway.retrievePaymentIntent(intent).latestCharge)
            #expect(charge.captured)
            #expect(charge.amount == 3199)
            #expect(charge.amountRefunded == 0)
        }
    }

    @Test func aVoidOfAnAuthorizationCancelsIt() async throws {
        try await PaymentWorkerFixture.with { fixture in
            let order = fixture.order()
            let intent = try await fixture.authorized(order)
            let void = fixture.command(.void, order, intent: intent)
            let first = try await fixture.execute(void)
            #expect(first.kind == .voided)
            #expect(first.intentId == intent)
            #expect(try await fixture.execute(void) == first)
            #expect(try await fixture.gateway.retrievePaymentIntent(intent).status == .canceled)
        }
    }

    /// A late void (the capture won the race) refunds nothing itself: it answers
    /// `captured`, and the order worker's late-capture refund gives the money back once.
    @Test func aVoidOfACapturedIntentAnswersCapturedAndRefundsNothing() async throws {
        try await PaymentWorkerFixture.with { fixture in
            let order = fixture.order()
            let intent = try await fixture.authorized(order, amount: 2400)
            _ = try await fixture.execute(fixture.command(.capture, order, intent: intent, amount: 2400))
            let void = fixture.command(.void, order, intent: intent, amount: 2400)
            let first = try await fixture.execute(void)
            #expect(first.kind == .captured)
            #expect(first.amount == Money(minor: 2400, currency: "EUR"))
            #expect(try await fixture.execute(void) == first)
            #expect(try await fixture.gateway.refunds(ofPaymentIntent: intent).isEmpty)
        }
    }

    @Test func aRefundDeliveredTwiceRefundsOnce() async throws {
        try await PaymentWorkerFixture.with { fixture in
            let order = fixture.order()
            let intent = try await fixture.authorized(order, amount: 4898)
            _ = try await fixture.execute(fixture.command(.capture, order, intent: intent, amount: 4898))
            let refund = fixture.command(.refund, order, intent: intent, step: "refund-7", amount: 799)
            let first = try await fixture.execute(refund)
            let second = try await fixture.execute(refund)
            #expect(first.kind == .refunded)
            #expect(first.amount == Money(minor: 799, currency: "EUR"))
            #expect(first.step == "refund-7")
            #expect(second == first)
            // Another return is another step: refunded too.
            let next = try await fixture.execute(fixture.command(.refund, order, intent: intent, step: "refund-9", amount: 1250))
            #expect(next.refundId != first.refundId)
            let refunds = try await fixture.gateway.refunds(ofPaymentIntent: intent)
            #expect(refunds.map(\.amount).sorted() == [799, 1250])
            #expect(try await fixture.gateway.retrievePaymentIntent(intent).latestCharge?.amountRefunded == 2049)
        }
    }

    @Test func aCaptureOfAVoidedIntentFailsAsCanceled() async throws {
        try await PaymentWorkerFixture.with { fixture in
            let order = fixture.order()
            let intent = try await fixture.authorized(order)
            _ = try await fixture.execute(fixture.command(.void, order, intent: intent))
            let outcome = try await fixture.execute(fixture.command(.capture, order, intent: intent))
            #expect(outcome.kind == .failed)
            #expect(outcome.declineCode == "intent-canceled")
        }
    }

    /// A command for an intent the gateway does not know is refused for good: an outcome, never a retry.
    @Test func aCommandForAnUnknownIntentIsAFailedOutcome() async throws {
        try await PaymentWorkerFixture.with { fixture in
            let outcome = try await fixture.execute(fixture.command(.capture, fixture.order(), intent: "pi_unknown"))
            #expect(outcome.kind == .failed)
            #expect(outcome.declineCode == "gateway-refused-404")
            #expect(outcome.intentId == "pi_unknown")
        }
    }

    /// An open breaker: the command is postponed and no call is made (no intent is
    /// created); once the open time has passed, the trial call goes through and closes it.
    @Test func anOpenBreakerPostponesWithoutCallingAndItsTrialClosesIt() async throws {
        let clock = Mutex(ContinuousClock.now)
        let breaker = CircuitBreaker(
            dependency: .paymentGateway, policy: .init(failureThreshold: 1, openDuration: .seconds(30)), logger: PaymentWorkerFixture.logger,
            now: { clock.withLock { $0 } })
        try await PaymentWorkerFixture.with(breaker: breaker) { fixture in
            breaker.recordFailure()
            let order = fixture.order()
            let command = fixture.authorize(order)
            let refused = await fixture.handler.execute(command, logger: PaymentWorkerFixture.logger)
            guard case .failure(let failure) = refused else {
                Issue.record("answered while open: \(refused)")
                return
            }
            #expect(failure.deliveryOutcome == .postpone(reason: "breaker-open", message: "the gateway's circuit breaker is open"))
            #expect(try await fixture.recordedIntents(order).isEmpty, "no intent was created")
            clock.withLock { $0 += .seconds(30) }
            let outcome = try await fixture.execute(command)
            #expect(outcome.kind == .authorized)
            #expect(breaker.state == .closed)
        }
    }
}
