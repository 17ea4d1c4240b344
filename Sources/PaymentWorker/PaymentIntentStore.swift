import Foundation
import Postgres

/// The payment worker's record of the gateway intent it created for each
/// order (`payment_intents`): written before the intent is confirmed, so a
/// redelivered authorize confirms that intent instead of creating a second
/// one, even against a gateway that ignores `Idempotency-Key`.
public struct PaymentIntentStore: Sendable {
    public let database: PostgresPool

    public init(database: PostgresPool) {
        self.database = database
    }

    /// The intent recorded for the order, if any.
    public func intentId(for orderId: UUID) async throws -> String? {
        try await database.withConnection { connection in
            try connection.query("SELECT intent_id FROM payment_intents WHERE order_id = $1", orderId).first?.decode(0, as: String.self)
        }
    }

    /// Records `intentId` for the order unless another delivery recorded one
    /// first; returns the one that stands (this one, or the winner's).
    public func record(_ intentId: String, for orderId: UUID) async throws -> String {
        try await database.withConnection { connection in
            let inserted = try connection.query(
                "INSERT INTO payment_intents (order_id, intent_id) VALUES ($1, $2) ON CONFLICT (order_id) DO NOTHING", orderId, intentId)
            if inserted.affectedRows == 1 { return intentId }
            return try connection.query("SELECT intent_id FROM payment_intents WHERE order_id = $1", orderId).singleRow().decode(0, as: String.self)
        }
    }
}
