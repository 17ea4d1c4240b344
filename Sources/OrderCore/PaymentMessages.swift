import Foundation
import TextCodecs

/// An amount of money: integer minor units (cents) of an ISO 4217 currency,
/// upper case. Prices and payments never use floating point.
public struct Money: Sendable, Hashable, Codable, CustomStringConvertible {
    public let minor: Int
    public let currency: String

    public init(minor: Int, currency: String) {
        self.minor = minor
        self.currency = currency
    }

    /// The largest amount Stripe charges (99,999,999 minor units: 999,999.99 EUR),
    /// and so the largest price and order amount the system takes.
    public static let maximumMinor = 99_999_999

    /// Three upper-case letters (the form ISO 4217 codes have; the gateway knows which exist).
    public static func isValidCurrency(_ code: String) -> Bool {
        code.utf8.count == 3 && code.utf8.allSatisfy { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }
    }

    /// `12.50 EUR` for logs and messages (two decimals; every currency the demo uses has them).
    public var description: String {
        let sign = minor < 0 ? "-" : ""
        let units = minor.magnitude / 100, cents = minor.magnitude % 100
        return "\(sign)\(units).\(cents < 10 ? "0" : "")\(cents) \(currency)"
    }
}

/// A message on the `payments` queue (AMQP `type` "payment.command.v1",
/// `message_id` its idempotency key): one call the payment worker makes to
/// the gateway for an order. The order worker writes them (through the outbox
/// or with its window's messages) when a transition's effects ask for one.
public struct PaymentCommand: Sendable, Hashable, Codable {
    public static let messageType = "payment.command.v1"

    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        /// Create a PaymentIntent (capture_method=manual) for the amount and confirm it.
        case authorize
        /// Capture the authorized intent.
        case capture
        /// Cancel the intent (an authorization never captured).
        case void
        /// Refund `amount` of the captured intent.
        case refund
    }

    public let kind: Kind
    public let orderId: UUID
    /// Names the call for the gateway's `Idempotency-Key`: the kind, and for a
    /// refund the sequence number of the transition that asked for it
    /// (`refund-7`), so each return refunds once however often it is delivered.
    public let step: String
    /// authorize, capture: the order's amount; refund: the amount to give back; void: the authorized amount.
    public let amount: Money
    /// authorize: the Stripe PaymentMethod id the customer gave.
    public let method: String?
    /// capture, void, refund: the intent the authorization made.
    public let intentId: String?

    public init(kind: Kind, orderId: UUID, step: String? = nil, amount: Money, method: String? = nil, intentId: String? = nil) {
        self.kind = kind
        self.orderId = orderId
        self.step = step ?? kind.rawValue
        self.amount = amount
        self.method = method
        self.intentId = intentId
    }

    /// The gateway's `Idempotency-Key` for this call and the message id: the
    /// same for every redelivery of the command, different for every step.
    public var idempotencyKey: String { "order-\(UUIDText.string(orderId))-\(step)" }

    public func encoded() -> [UInt8] { Array(try! MessageCoding.encoder.encode(self)) }

    public func outboundMessage(queue: String) -> OutboundMessage {
        OutboundMessage(
            exchange: "", routingKey: queue, messageId: idempotencyKey, correlationId: UUIDText.string(orderId), type: Self.messageType,
            body: encoded())
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .kind)
        try container.encode(UUIDText.string(orderId), forKey: .orderId)
        try container.encode(step, forKey: .step)
        try container.encode(amount, forKey: .amount)
        try container.encodeIfPresent(method, forKey: .method)
        try container.encodeIfPresent(intentId, forKey: .intentId)
    }

    /// Decodes and validates a body; every wrong field is named.
    public static func decode(_ body: [UInt8]) throws(PoisonMessage) -> PaymentCommand {
        var fields = try MessageFields(body)
        let kind = fields.oneOf("kind", Kind.self)
        let orderId = fields.uuid("orderId")
        let step = fields.string("step")
        let amount = fields.money("amount")
        let method = fields.optionalString("method")
        let intentId = fields.optionalString("intentId")
        if kind == .authorize, method == nil { fields.note("method: is required to authorize") }
        if let kind, kind != .authorize, intentId == nil { fields.note("intentId: is required to \(kind.rawValue)") }
        guard fields.problems.isEmpty, let kind, let orderId, let step, let amount else { throw fields.poison }
        return PaymentCommand(kind: kind, orderId: orderId, step: step, amount: amount, method: method, intentId: intentId)
    }
}

/// A message on the `payment_outcomes` queue (AMQP `type`
/// "payment.outcome.v1"): what the gateway answered, from the payment worker
/// (its `message_id` the command's idempotency key and the outcome) or from a
/// verified Stripe webhook (the event id). The order worker turns it into a
/// transition; it is the only writer of order state.
public struct PaymentOutcome: Sendable, Hashable, Codable {
    public static let messageType = "payment.outcome.v1"

    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        /// The intent is `requires_capture`: the amount is authorized.
        case authorized
        /// The intent is `requires_action` (3-D Secure): a webhook will tell the rest.
        case actionRequired = "action-required"
        /// The card was declined (`declineCode`); never retried.
        case declined
        /// The intent was captured (`amount` captured).
        case captured
        /// The intent was cancelled.
        case voided
        /// `amount` was refunded (`refundId`).
        case refunded
        /// The gateway refused the call for good and it was no decline (a capture
        /// of a lapsed authorization, a void of a captured intent): `declineCode` says why.
        case failed
    }

    public let kind: Kind
    public let orderId: UUID
    /// The command's step (`authorize`, `capture`, `refund-7`, …), or `webhook`.
    public let step: String
    public let intentId: String?
    public let amount: Money?
    /// A decline code (`card_declined`, `insufficient_funds`, …) or the gateway's error code.
    public let declineCode: String?
    public let refundId: String?

    public init(
        kind: Kind, orderId: UUID, step: String, intentId: String?, amount: Money? = nil, declineCode: String? = nil, refundId: String? = nil
    ) {
        self.kind = kind
        self.orderId = orderId
        self.step = step
        self.intentId = intentId
        self.amount = amount
        self.declineCode = declineCode
        self.refundId = refundId
    }

    public func encoded() -> [UInt8] { Array(try! MessageCoding.encoder.encode(self)) }

    /// Its message to the outcomes queue; `messageId` defaults to the step and kind
    /// (`order-…-capture-captured`), a webhook passes its event id.
    public func outboundMessage(queue: String, messageId: String? = nil) -> OutboundMessage {
        OutboundMessage(
            exchange: "", routingKey: queue, messageId: messageId ?? "order-\(UUIDText.string(orderId))-\(step)-\(kind.rawValue)",
            correlationId: UUIDText.string(orderId), type: Self.messageType, body: encoded())
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .kind)
        try container.encode(UUIDText.string(orderId), forKey: .orderId)
        try container.encode(step, forKey: .step)
        try container.encodeIfPresent(intentId, forKey: .intentId)
        try container.encodeIfPresent(amount, forKey: .amount)
        try container.encodeIfPresent(declineCode, forKey: .declineCode)
        try container.encodeIfPresent(refundId, forKey: .refundId)
    }

    public static func decode(_ body: [UInt8]) throws(PoisonMessage) -> PaymentOutcome {
        var fields = try MessageFields(body)
        let kind = fields.oneOf("kind", Kind.self)
        let orderId = fields.uuid("orderId")
        let step = fields.string("step")
        let intentId = fields.optionalString("intentId")
        let amount = fields["amount"] == nil ? nil : fields.money("amount")
        let declineCode = fields.optionalString("declineCode")
        let refundId = fields.optionalString("refundId")
        if let kind, [.authorized, .captured, .refunded].contains(kind), amount == nil { fields.note("amount: is required when \(kind.rawValue)") }
        if let kind, [.declined, .failed].contains(kind), declineCode == nil { fields.note("declineCode: is required when \(kind.rawValue)") }
        guard fields.problems.isEmpty, let kind, let orderId, let step else { throw fields.poison }
        return PaymentOutcome(kind: kind, orderId: orderId, step: step, intentId: intentId, amount: amount, declineCode: declineCode, refundId: refundId)
    }
}

extension MessageFields {
    mutating func optionalString(_ field: String) -> String? {
        self[field] == nil || self[field] == .null ? nil : string(field)
    }

    mutating func oneOf<Value: RawRepresentable & CaseIterable>(_ field: String, _: Value.Type) -> Value? where Value.RawValue == String {
        guard let text = string(field) else { return nil }
        guard let value = Value(rawValue: text) else {
            note("\(field): must be one of \(Value.allCases.map(\.rawValue).joined(separator: ", ")), not \"\(text)\"")
            return nil
        }
        return value
    }

    /// `{"minor": 1250, "currency": "EUR"}`, at least 0 minor units.
    mutating func money(_ field: String) -> Money? {
        guard case .object(let object)? = self[field] else {
            note("\(field): must be an object with minor and currency")
            return nil
        }
        guard case .integer(let minor)? = object["minor"], minor >= 0, minor <= Int64(Int.max) else {
            note("\(field).minor: must be an integer of at least 0")
            return nil
        }
        guard case .string(let currency)? = object["currency"], Money.isValidCurrency(currency) else {
            note("\(field).currency: must be an ISO 4217 code such as EUR")
            return nil
        }
        return Money(minor: Int(minor), currency: currency)
    }
}
