import Foundation
import OrderCore
import Postgres
import TextCodecs

/// Applies what the payment gateway answered (a `PaymentOutcome` from the
/// payment worker or a verified webhook) to the order, each outcome in one
/// transaction: the order's row locked, then its payment's; the payment row
/// updated; the outcome offered to `OrderLifecycle.decide` as an event; the
/// transition's effects carried out (the hold ended or committed, the next
/// payment command); the transition recorded; its events, vendor movements
/// and payment commands written to the outbox. The order worker is the only
/// writer of order state, so it is the only caller.
///
/// An outcome applies once: one the payment row already reflects (a
/// redelivery, a webhook repeating what the payment worker said) offers no
/// event, so even a late payment, whose transition leads the state to
/// itself, is recorded once.
public enum PaymentOutcomes {
    /// What applying an outcome did.
    public enum Applied: Sendable, Hashable {
        /// The order moved, or a late payment was recorded as a transition of its state to itself.
        case transition(RecordedTransition)
        /// The payment row took it (a void or refund settled) or knew it already: the order stays as it is.
        case paymentOnly
        /// The gateway refused a void or refund for good: the payment's reason says so, an operator must look.
        case gatewayRefused(String)
        /// The lifecycle refused the event in the order's state (an outcome nothing asked for).
        case refused(TransitionRefusal)
        /// No order, or no payment, has this id.
        case unknownOrder
    }

    public static func apply(_ outcome: PaymentOutcome, routing: OutboxRouting, on connection: PostgresConnection) throws -> Applied {
        try connection.withTransaction { connection in
            let orderId = outcome.orderId
            guard let status = try connection.query("SELECT status FROM orders WHERE id = $1 FOR UPDATE", [orderId]).first,
                let state = OrderState(rawValue: try status.decode(0)),
                let payment = try Payments.payment(of: orderId, locking: true, on: connection)
            else { return .unknownOrder }

            guard isNews(outcome, to: payment) else { return .paymentOnly }
            guard let event = event(of: outcome) else {
                try record(outcome, payment: payment, on: connection)
                if outcome.kind == .failed { return .gatewayRefused("\(outcome.step) refused: \(outcome.declineCode ?? "unknown")") }
                return .paymentOnly
            }
            // Decided before anything is written: an outcome the lifecycle refuses (one
            // nothing asked for) leaves the payment row as it was.
            let transition: OrderTransition
            switch OrderLifecycle.decide(state, event) {
            case .unchanged:
                try record(outcome, payment: payment, on: connection)
                return .paymentOnly
            case .refused(let refusal): return .refused(refusal)
            case .transition(let decided): transition = decided
            }
            try record(outcome, payment: payment, on: connection)
            var movements: [StockStatements.NewMovement] = []
            if transition.effects.contains(.releaseHold) {
                movements += try Reservations.endOrderHolds([orderId], as: "RELEASED", on: connection)
            }
            if transition.effects.contains(.commitHold) {
                movements += try Reservations.commitOrderHold(orderId, on: connection)
            }
            let recorded = try OrderHistory.record(transition, orderId: orderId, actor: .system, on: connection)
            let commands = try Payments.commands(for: transition.effects, of: recorded, on: connection)
            try routing.enqueue(orders: [orderId], movements: movements, payments: commands, on: connection)
            return .transition(recorded)
        }
    }

    /// The order event an outcome is: none for the settling of a void or a
    /// refund (the order moved when it asked for them), nor for a void or
    /// refund the gateway refused.
    static func event(of outcome: PaymentOutcome) -> OrderEvent? {
        switch outcome.kind {
        case .authorized: .paymentAuthorized
        case .actionRequired: .paymentStarted
        case .declined: .paymentDeclined(reason: outcome.declineCode ?? "declined")
        case .captured: .paymentCaptured
        case .failed: settlesCompensation(outcome) ? nil : .paymentDeclined(reason: outcome.declineCode ?? "payment-failed")
        // Cancelled by anything but our own void (Stripe cancels an authorization left
        // uncaptured for days; a person can in its dashboard): the payment is gone, so an
        // order still waiting for it fails and releases its hold (one that stopped waiting is unchanged).
        case .voided: settlesCompensation(outcome) ? nil : .paymentDeclined(reason: "intent-canceled")
        case .refunded: nil
        }
    }

    /// The outcome of a void or a refund (steps `void`, `refund-<seq>`), not of the payment itself.
    private static func settlesCompensation(_ outcome: PaymentOutcome) -> Bool {
        outcome.step == PaymentCommand.Kind.void.rawValue || outcome.step.hasPrefix(PaymentCommand.Kind.refund.rawValue)
    }

    /// Whether the payment row does not reflect the outcome yet.
    private static func isNews(_ outcome: PaymentOutcome, to payment: OrderDetails.Payment) -> Bool {
        // About another intent than the order's (a webhook for an intent made by hand): not this payment's news.
        if let recorded = payment.intentId, let intent = outcome.intentId, recorded != intent { return false }
        switch outcome.kind {
        case .authorized: return ["PENDING", "REQUIRES_ACTION"].contains(payment.status)
        case .actionRequired: return payment.status == "PENDING"
        // Once authorized, a decline is stale (a webhook delivered late): only a failed capture fails a PAID order.
        case .declined: return ["PENDING", "REQUIRES_ACTION"].contains(payment.status)
        case .captured: return payment.captured.minor == 0
        // A declined payment stays DECLINED (its reason is the decline code) once its intent is cancelled too.
        case .voided: return ["PENDING", "REQUIRES_ACTION", "AUTHORIZED"].contains(payment.status)
        // A refund counts once, by its step's row (REQUESTED until settled).
        case .refunded: return true
        case .failed: return settlesCompensation(outcome) || ["PENDING", "REQUIRES_ACTION", "AUTHORIZED"].contains(payment.status)
        }
    }

    /// Writes the outcome to the payment row (and a refund's row).
    private static func record(_ outcome: PaymentOutcome, payment: OrderDetails.Payment, on connection: PostgresConnection) throws {
        let orderId = outcome.orderId
        func update(status: String?, captured: Int? = nil, reason: String? = nil) throws {
            try connection.query(
                """
                UPDATE payments SET status = coalesce($2, status), intent_id = coalesce($3, intent_id),
                    -- least() skips a NULL: an outcome without a captured amount must leave captured_minor alone.
                    captured_minor = CASE WHEN $4::bigint IS NULL THEN captured_minor ELSE least($4::bigint, amount_minor) END,
                    reason = coalesce($5, reason), updated_at = now()
                WHERE order_id = $1
                """, [orderId, status, outcome.intentId, captured, reason])
        }
        switch outcome.kind {
        case .authorized: try update(status: "AUTHORIZED")
        case .actionRequired: try update(status: "REQUIRES_ACTION")
        case .declined: try update(status: "DECLINED", reason: outcome.declineCode)
        // Captures are always of the whole authorization: an answer that could not
        // tell the amount (a charge the gateway did not expand) counts as all of it,
        // so a later refund is never computed from zero.
        case .captured: try update(status: "CAPTURED", captured: outcome.amount.map(\.minor).flatMap { $0 > 0 ? $0 : nil } ?? payment.amount.minor)
        case .voided: try update(status: "VOIDED")
        case .refunded:
            // Settled once by its step: a redelivered refund finds its row SUCCEEDED and adds nothing.
            try connection.query(
                """
                WITH settled AS (
                    UPDATE payment_refunds SET status = 'SUCCEEDED', refund_id = $3, settled_at = now()
                    WHERE order_id = $1 AND step = $2 AND status = 'REQUESTED' RETURNING amount_minor
                )
                UPDATE payments AS p SET refunded_minor = p.refunded_minor + s.amount_minor,
                    status = CASE WHEN p.refunded_minor + s.amount_minor >= p.captured_minor THEN 'REFUNDED' ELSE p.status END,
                    updated_at = now()
                FROM settled s WHERE p.order_id = $1
                """, [orderId, outcome.step, outcome.refundId])
        case .failed where settlesCompensation(outcome):
            try connection.query(
                "UPDATE payment_refunds SET status = 'FAILED', settled_at = now() WHERE order_id = $1 AND step = $2 AND status = 'REQUESTED'",
                [orderId, outcome.step])
            try update(status: nil, reason: "\(outcome.step) refused by the gateway: \(outcome.declineCode ?? "unknown")")
        case .failed: try update(status: "DECLINED", reason: outcome.declineCode)
        }
    }
}
