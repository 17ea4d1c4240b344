import Foundation
import OrderCore
import Postgres

/// What happened when an allocation reached its vendor.
public enum VendorApplyResult: Sendable, Hashable {
    case applied
    /// Applied before (a redelivery or a replay): nothing changed.
    case alreadyApplied
    /// The vendor cannot cover it any more (sold elsewhere, or no such product there).
    case conflicted(reason: String)
}

/// A vendor's stock as read in one snapshot, with which of the asked
/// allocation ids the vendor had applied in that same snapshot.
public struct VendorSnapshot: Sendable, Hashable {
    public let stock: [String: Int]
    public let applied: Set<UUID>
}

/// SQL against a vendor's own database (migrations/vendor).
public enum VendorStore {
    private static func noProduct(_ allocation: VendorMovement) -> String {
        "vendor \(allocation.vendorId) has no product \(allocation.productId)"
    }

    private static func cannotCover(_ allocation: VendorMovement) -> String {
        "vendor \(allocation.vendorId) cannot cover \(allocation.quantity) of \(allocation.productId)"
    }

    /// Applies a window of one vendor's allocations in one transaction, with
    /// exactly the result each would have had alone, in order: the product rows
    /// are locked (sorted), each allocation is checked against what the earlier
    /// ones left, and the records and decrements are written with one statement
    /// each. The allocation id is `applied_movements`' primary key, recorded
    /// in the same transaction as the decrement: an allocation id seen before
    /// (in the database or earlier in the window) is `alreadyApplied`. Any
    /// error rolls the whole window back: the caller then applies them one by
    /// one (`WindowFallback`), each as a window of one.
    public static func apply(_ allocations: [VendorMovement], on connection: PostgresConnection) throws -> [VendorApplyResult] {
        try connection.withTransaction { connection in
            let products = Array(Set(allocations.map(\.productId))).sorted()
            // The row locks also serialise two windows holding the same allocation
            // (same product), so the applied check below cannot go stale.
            var stock: [String: Int] = [:]
            for row in try connection.query(
                "SELECT id, stock FROM products WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE", [PostgresArray(products)]
            ).rows {
                stock[try row.decode(0, as: String.self)] = try row.decode(1, as: Int.self)
            }
            var seen = Set(try connection.query(
                "SELECT movement_id FROM applied_movements WHERE movement_id = ANY($1::uuid[])",
                [PostgresArray(allocations.map(\.movementId))]
            ).rows.map { try $0.decode(0, as: UUID.self) })

            var results: [VendorApplyResult] = []
            var applied: [VendorMovement] = []
            for allocation in allocations {
                if seen.contains(allocation.movementId) {
                    results.append(.alreadyApplied)
                } else if let available = stock[allocation.productId] {
                    if available >= allocation.quantity {
                        stock[allocation.productId] = available - allocation.quantity
                        seen.insert(allocation.movementId)
                        applied.append(allocation)
                        results.append(.applied)
                    } else {
                        results.append(.conflicted(reason: cannotCover(allocation)))
                    }
                } else {
                    results.append(.conflicted(reason: noProduct(allocation)))
                }
            }
            guard !applied.isEmpty else { return results }
            // No ON CONFLICT: a duplicate here would mean the check above was wrong,
            // and the error sends the window to the one-by-one path.
            try connection.query(
                """
                INSERT INTO applied_movements (movement_id, order_id, product_id, quantity, kind)
                SELECT *, 'allocate' FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::int[])
                """,
                [
                    PostgresArray(applied.map(\.movementId)), PostgresArray(applied.map(\.orderId)),
                    PostgresArray(applied.map(\.productId)), PostgresArray(applied.map(\.quantity)),
                ])
            var taken: [String: Int] = [:]
            for allocation in applied { taken[allocation.productId, default: 0] += allocation.quantity }
            let rows = taken.sorted { $0.key < $1.key }
            try connection.query(
                """
                UPDATE products AS p SET stock = p.stock - d.quantity, updated_at = now()
                FROM unnest($1::text[], $2::int[]) AS d(id, quantity)
                WHERE p.id = d.id
                """, [PostgresArray(rows.map(\.key)), PostgresArray(rows.map(\.value))])
            return results
        }
    }

    /// One allocation: the window of one.
    public static func apply(_ allocation: VendorMovement, on connection: PostgresConnection) throws -> VendorApplyResult {
        try apply([allocation], on: connection)[0]
    }

    /// The vendor's stock and which of `allocations` it has applied, in one REPEATABLE READ snapshot.
    public static func snapshot(checking allocations: [UUID], on connection: PostgresConnection) throws -> VendorSnapshot {
        try connection.withTransaction(isolation: .repeatableRead) { connection in
            let stock = Dictionary(uniqueKeysWithValues: try connection.query("SELECT id, stock FROM products").rows.map {
                (try $0.decode(0, as: String.self), try $0.decode(1, as: Int.self))
            })
            var applied = Set<UUID>()
            if !allocations.isEmpty {
                applied = Set(try connection.query(
                    "SELECT movement_id FROM applied_movements WHERE movement_id = ANY($1::uuid[])",
                    [PostgresArray(allocations)]
                ).rows.map { try $0.decode(0, as: UUID.self) })
            }
            return VendorSnapshot(stock: stock, applied: applied)
        }
    }

    /// Adds stock (creating the product at this vendor if needed); returns the new figure.
    public static func restock(_ productId: String, by quantity: Int, on connection: PostgresConnection) throws -> Int {
        try connection.query(
            """
            INSERT INTO products (id, name, stock) VALUES ($1, $1, $2)
            ON CONFLICT (id) DO UPDATE SET stock = products.stock + EXCLUDED.stock, updated_at = now()
            RETURNING stock
            """, [productId, quantity]
        ).singleRow().decode(0)
    }

    /// Sets the stock to an absolute figure (an inventory count); returns it.
    public static func adjust(_ productId: String, to stock: Int, on connection: PostgresConnection) throws -> Int {
        try connection.query(
            """
            INSERT INTO products (id, name, stock) VALUES ($1, $1, $2)
            ON CONFLICT (id) DO UPDATE SET stock = EXCLUDED.stock, updated_at = now()
            RETURNING stock
            """, [productId, stock]
        ).singleRow().decode(0)
    }

    public static func stock(_ productId: String? = nil, on connection: PostgresConnection) throws -> [(productId: String, stock: Int, updatedAt: Date)] {
        try connection.query(
            "SELECT id, stock, updated_at FROM products WHERE $1::text IS NULL OR id = $1 ORDER BY id", [productId]
        ).rows.map { (try $0.decode(0), try $0.decode(1), try $0.decode(2)) }
    }
}

/// ordersdb's side of vendor sync.
public enum AllocationStore {
    /// Marks allocations APPLIED with one statement (idempotent).
    public static func markApplied(_ allocationIds: [UUID], on connection: PostgresConnection) throws {
        guard !allocationIds.isEmpty else { return }
        try connection.query(
            "UPDATE stock_movements SET status = 'APPLIED', applied_at = now() WHERE id = ANY($1::uuid[]) AND status = 'PENDING'",
            [PostgresArray(allocationIds)])
    }

    /// Marks an allocation CONFLICTED and flags its order for review.
    public static func markConflicted(_ allocation: VendorMovement, reason: String, on connection: PostgresConnection) throws {
        try connection.withTransaction { connection in
            try connection.query("UPDATE stock_movements SET status = 'CONFLICTED' WHERE id = $1 AND status = 'PENDING'", [allocation.movementId])
            try connection.query(
                """
                UPDATE orders SET review_required = true, updated_at = now(),
                    review_reason = coalesce(review_reason || '; ', '') || $2
                WHERE id = $1
                """, [allocation.orderId, reason])
        }
    }
}
