import AMQP
import Foundation
import Logging
import Messaging
import OrderCore
import PaymentWorker
import ServiceLifecycle
import ServiceSupport
import TestSupport
import Testing
import Topology

/// The payment worker as it runs (PaymentWorkerApp: a QueueWorker on a
/// prefixed `payments` queue) against the live broker, ordersdb and localstripe.
@Suite(.timeLimit(.minutes(3))) struct PaymentWorkerQueueTests {
    /// Commands in, outcomes out: an authorization, a decline, and a body that is no command.
    /// The worker's metrics (labelled with the test's own queue) count the three and the dead letter.
    @Test func commandsOnThePaymentsQueueBecomeOutcomesOnPaymentOutcomes() async throws {
        let visa = UUID(), declining = UUID()
        try await QueueFixture.with(retryDelayMilliseconds: 5000, orders: [visa, declining]) { fixture in
            try await fixture.publish([
                PaymentCommand(kind: .authorize, orderId: visa, amount: Money(minor: 1250, currency: "EUR"), method: "pm_card_visa"),
                PaymentCommand(kind: .authorize, orderId: declining, amount: Money(minor: 799, currency: "EUR"), method: "pm_card_chargeCustomerFail"),
            ])
            try await fixture.publishRaw(Array(#"{"kind":"authorize"}"#.utf8), messageID: "poison-\(visa)")
            try await fixture.running([:]) { _ in
                let outcomes = try await fixture.broker.waitForDepth(of: fixture.topology.paymentOutcomes.main) { $0 >= 2 }
                let deadLettered = try await fixture.broker.waitForDepth(of: fixture.topology.payments.deadLetter) { $0 >= 1 }
                #expect(outcomes == 2)
                #expect(deadLettered == 1)
                // The depth poller's first round runs as the worker starts.
                let deadLetterDepth = try await MetricsText.eventually { $0.value("broker_queue_messages", ["queue": fixture.topology.payments.deadLetter]) }
                #expect(deadLetterDepth != nil)
            }
            // The worker has stopped: every window it took is acked and counted.
            let metrics = MetricsText.process
            let queue = ["queue": fixture.topology.payments.main]
            #expect(metrics.value("worker_dead_letters_total", queue.merging(["reason": "invalid-message"]) { $1 }) == 1)
            #expect(metrics.value("worker_dead_letters_total", queue) == 1)
            #expect(metrics.value("worker_retries_total", queue) == nil)
            #expect(metrics.value("worker_messages_total", queue) == 3)
            #expect(metrics.value("worker_window_size_sum", queue) == 3)
            #expect((metrics.value("worker_window_seconds_count", queue) ?? 0) >= 1)
            #expect(metrics.value("broker_queue_consumers", ["queue": fixture.topology.payments.retry]) != nil)
            let delivered = try await fixture.broker.drain(fixture.topology.paymentOutcomes.main)
            let outcomes = try Dictionary(uniqueKeysWithValues: delivered.map { delivery in
                #expect(delivery.properties.type == PaymentOutcome.messageType)
                let outcome = try PaymentOutcome.decode(delivery.body)
                #expect(delivery.properties.correlationID == outcome.orderId.uuidString.lowercased())
                return (outcome.orderId, outcome)
            })
            #expect(outcomes[visa]?.kind == .authorized)
            #expect(outcomes[visa]?.amount == Money(minor: 1250, currency: "EUR"))
            #expect(outcomes[declining]?.kind == .declined)
            #expect(outcomes[declining]?.declineCode == "card_declined")
            let poison = try await fixture.broker.drain(fixture.topology.payments.deadLetter)
            #expect(poison.first?.properties.headers[FailureHeaders.Name.reason]?.stringValue == "invalid-message")
            #expect(try await fixture.broker.depth(of: fixture.topology.payments.retry) == 0)
        }
    }

    /// A gateway that does not answer: every command waits in the retry queue
    /// without spending a retry (one sent with its last retry spent included), nothing is
    /// dead-lettered, and after N failures the breaker is open and no more calls are made.
    @Test func aGatewayThatIsDownPostponesEveryCommandAndOpensTheBreaker() async throws {
        // A long retry delay keeps the postponed copies in the retry queue for the test to read.
        let orders = (0..<4).map { _ in UUID() }
        try await QueueFixture.with(retryDelayMilliseconds: 600_000, orders: orders) { fixture in
            let commands = orders.map { PaymentCommand(kind: .authorize, orderId: $0, amount: Money(minor: 2400, currency: "EUR"), method: "pm_card_visa") }
            // MAX_RETRIES is 1: a copy with one retry spent would go to the DLQ if a retry were counted.
            try await fixture.publish(commands, retryCount: 1)
            let environment = [
                "STRIPE_API_BASE": "http://127.0.0.1:1", "STRIPE_TIMEOUT_MS": "500", "PAYMENT_BREAKER_FAILURES": "2",
                "PAYMENT_BREAKER_OPEN_SECONDS": "600", "MAX_RETRIES": "1", "PAYMENT_CONCURRENCY": "1",
            ]
            try await fixture.running(environment) { app in
                let postponed = try await fixture.broker.waitForDepth(of: fixture.topology.payments.retry) { $0 >= 4 }
                #expect(postponed == 4)
                #expect(app.breaker.state == .open)
            }
            #expect(try await fixture.broker.depth(of: fixture.topology.payments.deadLetter) == 0)
            #expect(try await fixture.broker.depth(of: fixture.topology.paymentOutcomes.main) == 0)
            let postponed = try await fixture.broker.drain(fixture.topology.payments.retry)
            #expect(postponed.map { FailureHeaders.retryCount(of: $0.properties) } == [1, 1, 1, 1])
            let reasons = postponed.compactMap { $0.properties.headers[FailureHeaders.Name.reason]?.stringValue }
            #expect(reasons == ["gateway-unavailable", "gateway-unavailable", "breaker-open", "breaker-open"])
            let metrics = MetricsText.process
            let queue = ["queue": fixture.topology.payments.main]
            #expect(metrics.value("worker_postponed_total", queue.merging(["reason": "gateway-unavailable"]) { $1 }) == 2)
            #expect(metrics.value("worker_postponed_total", queue.merging(["reason": "breaker-open"]) { $1 }) == 2)
            #expect(metrics.value("worker_retries_total", queue) == nil)
            #expect(metrics.value("worker_dead_letters_total", queue) == nil)
            #expect(try await fixture.recordedIntents().isEmpty, "no intent was created")
        }
    }
}
