import Foundation
import OrderCore
import TextCodecs

/// A Stripe event as `POST /webhooks/stripe` receives it (`id`, `type`,
/// `data.object`), read only as far as the order worker needs it: the
/// PaymentIntent events that move an order's payment, as a `PaymentOutcome`.
struct StripeWebhookEvent: Sendable, Hashable {
    let id: String
    let type: String
    /// What the order worker is told; nil when the event is none of its business
    /// (`ignoredBecause` says why).
    let outcome: PaymentOutcome?
    let ignoredBecause: String?

    /// The step every webhook outcome carries, whatever the event.
    static let step = "webhook"

    /// Nil when the body is not a JSON object with a string `id` and `type`.
    static func parse(_ body: [UInt8]) -> StripeWebhookEvent? {
        guard case .object(let event)? = try? JSONValue.parse(body),
            case .string(let id)? = event["id"], !id.isEmpty,
            case .string(let type)? = event["type"]
        else { return nil }
        guard case .object(let data)? = event["data"], case .object(let intent)? = data["object"] else {
            return StripeWebhookEvent(id: id, type: type, outcome: nil, ignoredBecause: "no data.object")
        }
        switch outcome(of: type, intent: intent) {
        case .success(let outcome): return StripeWebhookEvent(id: id, type: type, outcome: outcome, ignoredBecause: nil)
        case .failure(let reason): return StripeWebhookEvent(id: id, type: type, outcome: nil, ignoredBecause: reason.text)
        }
    }

    private struct Ignored: Error { let text: String }

    private static func outcome(of type: String, intent: [String: JSONValue]) -> Result<PaymentOutcome, Ignored> {
        let kind: PaymentOutcome.Kind
        switch type {
        case "payment_intent.amount_capturable_updated": kind = .authorized
        case "payment_intent.payment_failed": kind = .declined
        case "payment_intent.succeeded": kind = .captured
        case "payment_intent.canceled": kind = .voided
        default: return .failure(Ignored(text: "not a payment intent event the orders follow"))
        }
        guard case .object(let metadata)? = intent["metadata"], case .string(let text)? = metadata["order_id"],
            let orderId = UUIDText.parse(text)
        else { return .failure(Ignored(text: "no order id (metadata.order_id) in the payment intent")) }
        let intentId = string(intent["id"])
        let currency = string(intent["currency"])?.uppercased()
        let minor = kind == .authorized ? integer(intent["amount_capturable"]) ?? integer(intent["amount"]) : integer(intent["amount"])
        let amount = minor.flatMap { minor in currency.flatMap { Money.isValidCurrency($0) ? Money(minor: minor, currency: $0) : nil } }
        if kind == .authorized || kind == .captured, amount == nil {
            return .failure(Ignored(text: "no amount and currency in the payment intent"))
        }
        var declineCode: String?
        if kind == .declined {
            let error: [String: JSONValue]
            if case .object(let object)? = intent["last_payment_error"] { error = object } else { error = [:] }
            declineCode = string(error["decline_code"]) ?? string(error["code"]) ?? "payment_failed"
        }
        return .success(PaymentOutcome(kind: kind, orderId: orderId, step: step, intentId: intentId, amount: amount, declineCode: declineCode))
    }

    private static func string(_ value: JSONValue?) -> String? {
        guard case .string(let text)? = value, !text.isEmpty else { return nil }
        return text
    }

    private static func integer(_ value: JSONValue?) -> Int? {
        guard case .integer(let number)? = value, number >= 0 else { return nil }
        return Int(exactly: number)
    }
}
