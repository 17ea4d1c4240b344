import Foundation
import OrderCore
import Postgres
import ServiceSupport

/// The statements `OrderApplier` says to ordersdb about lines, stock and
/// allocations, each one statement for a whole window.
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

    /// An allocation a confirmed order is given: the plan's share, its new id, the order.
    struct NewAllocation {
        let planned: PlannedAllocation
        let id: UUID
        let orderId: UUID

        var vendorAllocation: VendorAllocation {
            VendorAllocation(allocationId: id, orderId: orderId, vendorId: planned.vendorId, productId: planned.productId, quantity: planned.quantity)
        }
    }

    /// `plan`'s allocations for `orderId`, each with a fresh id.
    static func newAllocations(_ plan: [PlannedAllocation], orderId: UUID) -> [NewAllocation] {
        plan.map { NewAllocation(planned: $0, id: RandomUUID.make(), orderId: orderId) }
    }

    /// Inserts the orders' lines (numbered from 1 in request order) with one statement.
    static func insertLines(_ orders: [OrderPlaced], on connection: PostgresConnection) throws {
        let lines = orders.flatMap { order in order.lines.enumerated().map { (order.orderId, $0.offset + 1, $0.element) } }
        try connection.query(
            """
            INSERT INTO order_lines (order_id, line_no, product_id, quantity)
            SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::int[])
            """,
            [PostgresArray(lines.map(\.0)), PostgresArray(lines.map(\.1)), PostgresArray(lines.map(\.2.productId)), PostgresArray(lines.map(\.2.quantity))])
    }

    /// Inserts allocations (PENDING) with one statement.
    static func insertAllocations(_ allocations: [NewAllocation], on connection: PostgresConnection) throws {
        try connection.query(
            """
            INSERT INTO allocations (id, order_id, line_no, vendor_id, product_id, quantity)
            SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::text[], $5::text[], $6::int[])
            """,
            [
                PostgresArray(allocations.map(\.id)), PostgresArray(allocations.map(\.orderId)),
                PostgresArray(allocations.map(\.planned.lineNumber)), PostgresArray(allocations.map(\.planned.vendorId)),
                PostgresArray(allocations.map(\.planned.productId)), PostgresArray(allocations.map(\.planned.quantity)),
            ])
    }

    /// An `allocations` row read as `id, vendor_id, product_id, quantity` from
    /// column `first` on.
    static func allocation(_ row: PostgresRow, orderId: UUID, from first: Int) throws -> VendorAllocation {
        VendorAllocation(
            allocationId: try row.decode(first), orderId: orderId, vendorId: try row.decode(first + 1),
            productId: try row.decode(first + 2), quantity: try row.decode(first + 3))
    }
}
