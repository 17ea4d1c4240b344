import Foundation

/// The fields of a Stripe PaymentIntent the payment worker acts on.
public struct StripePaymentIntent: Sendable, Hashable, Decodable {
    /// `requires_confirmation`, `requires_action`, `requires_capture`,
    /// `requires_payment_method` (declined), `processing`, `succeeded`, `canceled`.
    public enum Status: String, Sendable, Hashable, Decodable {
        case requiresPaymentMethod = "requires_payment_method"
        case requiresConfirmation = "requires_confirmation"
        case requiresAction = "requires_action"
        case processing
        case requiresCapture = "requires_capture"
        case succeeded
        case canceled
    }

    /// Why the last confirmation failed.
    public struct PaymentError: Sendable, Hashable, Decodable {
        public let code: String?
        public let declineCode: String?

        enum CodingKeys: String, CodingKey {
            case code
            case declineCode = "decline_code"
        }

        /// What a decline is reported as: the issuer's code when there is one.
        public var reason: String { declineCode ?? code ?? "card_declined" }
    }

    public let id: String
    public let status: Status
    /// Minor units.
    public let amount: Int
    /// Lower case, as Stripe writes it.
    public let currency: String
    /// Its charge, when the intent was confirmed and it was expanded (localstripe
    /// always expands it; Stripe sends the id unless asked to expand).
    public let latestCharge: StripeCharge?
    public let lastPaymentError: PaymentError?
    public let metadata: [String: String]
    /// What Stripe received once captured (localstripe leaves it empty).
    public let amountReceived: Int?

    enum CodingKeys: String, CodingKey {
        case id, status, amount, currency, metadata
        case latestCharge = "latest_charge"
        case lastPaymentError = "last_payment_error"
        case amountReceived = "amount_received"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        status = try container.decode(Status.self, forKey: .status)
        amount = try container.decode(Int.self, forKey: .amount)
        currency = try container.decode(String.self, forKey: .currency)
        // An id alone says nothing about the amounts: it counts as not expanded.
        latestCharge = try? container.decodeIfPresent(StripeCharge.self, forKey: .latestCharge)
        lastPaymentError = try container.decodeIfPresent(PaymentError.self, forKey: .lastPaymentError)
        metadata = try container.decodeIfPresent([String: String].self, forKey: .metadata) ?? [:]
        amountReceived = try? container.decodeIfPresent(Int.self, forKey: .amountReceived)
    }

    /// Minor units captured: the charge's `amount_captured` where the gateway
    /// gives it, else its whole amount once `captured` (localstripe captures in
    /// full), else the intent's `amount_received` (a charge not expanded).
    public var capturedAmount: Int {
        guard let charge = latestCharge else { return status == .succeeded ? amountReceived ?? 0 : 0 }
        return charge.amountCaptured ?? (charge.captured ? charge.amount : 0)
    }
}

/// The fields of a Stripe Charge (an intent's `latest_charge`) that say what moved.
public struct StripeCharge: Sendable, Hashable, Decodable {
    public let id: String
    public let amount: Int
    public let captured: Bool
    /// Stripe sends it; localstripe does not (see ``StripePaymentIntent/capturedAmount``).
    public let amountCaptured: Int?
    public let amountRefunded: Int

    enum CodingKeys: String, CodingKey {
        case id, amount, captured
        case amountCaptured = "amount_captured"
        case amountRefunded = "amount_refunded"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        amount = try container.decode(Int.self, forKey: .amount)
        captured = try container.decodeIfPresent(Bool.self, forKey: .captured) ?? false
        amountCaptured = try container.decodeIfPresent(Int.self, forKey: .amountCaptured)
        amountRefunded = try container.decodeIfPresent(Int.self, forKey: .amountRefunded) ?? 0
    }
}
