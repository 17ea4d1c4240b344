import Foundation

/// The fields of a Stripe Refund the payment worker reports.
public struct StripeRefund: Sendable, Hashable, Decodable {
    public let id: String
    /// Minor units.
    public let amount: Int
    /// `succeeded`, `pending`, `failed`, `canceled`.
    public let status: String
    public let metadata: [String: String]

    enum CodingKeys: String, CodingKey {
        case id, amount, status, metadata
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        amount = try container.decode(Int.self, forKey: .amount)
        status = try container.decodeIfPresent(String.self, forKey: .status) ?? "succeeded"
        metadata = try container.decodeIfPresent([String: String].self, forKey: .metadata) ?? [:]
    }

    /// The metadata key a refund carries its caller's idempotency key under, so
    /// a redelivered refund finds the one it made (localstripe ignores `Idempotency-Key`).
    public static let idempotencyMetadataKey = "idempotency_key"
}
