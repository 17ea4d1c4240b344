import Foundation
import Postgres

/// Marks an order for an operator's attention (`orders.review_required`),
/// adding `reason` to the reasons it has already, once: a redelivered scan or
/// event that flags again must not grow the text.
enum OrderReview {
    static func flag(_ orderId: UUID, reason: String, on connection: PostgresConnection) throws {
        try connection.query(
            """
            UPDATE orders SET review_required = true, updated_at = now(),
                review_reason = coalesce(review_reason || '; ', '') || $2
            WHERE id = $1 AND position($2 IN coalesce(review_reason, '')) = 0
            """, [orderId, reason])
    }
}
