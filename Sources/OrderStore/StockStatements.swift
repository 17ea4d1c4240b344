import Foundation
import OrderCore
import Postgres

/// What `OrderApplier` and `OrderBatchApplier` both say to ordersdb about
/// stock and allocations, written once so the two paths lock, decrement and
/// read back alike.
enum StockStatements {
    /// Locks and reads the `vendor_stock` rows of `products`, in (product,
    /// vendor) order: the lock order every applier takes them in.
    static func lock(_ products: [String], on connection: PostgresConnection) throws -> [VendorStock] {
        try connection.query(
            """
            SELECT vendor_id, product_id, stock FROM vendor_stock
            WHERE product_id = ANY($1::text[])
            ORDER BY product_id, vendor_id
            FOR UPDATE
            """, [PostgresArray(products)]
        ).rows.map { row in
            VendorStock(vendorId: try row.decode(0), productId: try row.decode(1), stock: try row.decode(2))
        }
    }

    private struct StockKey: Hashable {
        let productId: String
        let vendorId: String
    }

    /// Subtracts the planned quantities, summed per (product, vendor), with one
    /// statement whose rows come in (product, vendor) order.
    static func decrement(_ allocations: [PlannedAllocation], on connection: PostgresConnection) throws {
        var decrements: [StockKey: Int] = [:]
        for planned in allocations {
            decrements[StockKey(productId: planned.productId, vendorId: planned.vendorId), default: 0] += planned.quantity
        }
        let rows = decrements.sorted { ($0.key.productId, $0.key.vendorId) < ($1.key.productId, $1.key.vendorId) }
        try connection.query(
            """
            UPDATE vendor_stock AS s SET stock = s.stock - d.quantity
            FROM unnest($1::text[], $2::text[], $3::int[]) AS d(product_id, vendor_id, quantity)
            WHERE s.product_id = d.product_id AND s.vendor_id = d.vendor_id
            """, [PostgresArray(rows.map(\.key.productId)), PostgresArray(rows.map(\.key.vendorId)), PostgresArray(rows.map(\.value))])
    }

    /// An `allocations` row read as `id, vendor_id, product_id, quantity` from
    /// column `first` on.
    static func allocation(_ row: PostgresRow, orderId: UUID, from first: Int) throws -> VendorAllocation {
        VendorAllocation(
            allocationId: try row.decode(first), orderId: orderId, vendorId: try row.decode(first + 1),
            productId: try row.decode(first + 2), quantity: try row.decode(first + 3))
    }
}
