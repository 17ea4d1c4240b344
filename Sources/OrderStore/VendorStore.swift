import Foundation
import OrderCore
import Postgres

/// What happened when a stock movement reached its vendor.
public enum VendorApplyResult: Sendable, Hashable {
    case applied
    /// Applied before (a redelivery or a replay): nothing changed.
    case alreadyApplied
    /// The vendor refused it: an allocation it cannot cover any more (sold
    /// elsewhere), or a movement for a product it does not have.
    case conflicted(reason: String)
    /// A restock of more units than this vendor has applied allocations for,
    /// for that order and product: its allocation is still on its way (the
    /// restock overtook it; retry), or was refused (its restock is void).
    case notYetAllocated(reason: String)
}

/// A vendor's stock as read in one snapshot, with which of the asked
/// movement ids the vendor had applied in that same snapshot.
public struct VendorSnapshot: Sendable, Hashable {
    public let stock: [String: Int]
    public let applied: Set<UUID>
}

/// SQL against a vendor's own database (migrations/vendor).
public enum VendorStore {
    private static func refusal(_ movement: VendorMovement, available: Int?) -> String? {
        switch (movement.kind, available) {
        case (.allocate, nil): "vendor \(movement.vendorId) has no product \(movement.productId)"
        case (.restock, nil): "vendor \(movement.vendorId) has no product \(movement.productId) to restock"
        case (.allocate, let available?) where available < movement.quantity:
            "vendor \(movement.vendorId) cannot cover \(movement.quantity) of \(movement.productId)"
        case (.allocate, _), (.restock, _): nil
        }
    }

    /// Applies a window of one vendor's movements in one transaction, with
    /// exactly the result each would have had alone, in order: the product rows
    /// are locked (sorted), each movement is checked against what the earlier
    /// ones left (an allocation takes, a restock gives back), and the records
    /// and the stock changes are written with one statement each. The movement
    /// id is `applied_movements`' primary key, recorded with its kind in the
    /// same transaction as the change: a movement id seen before (in the
    /// database or earlier in the window) is `alreadyApplied`. Any error rolls
    /// the whole window back: the caller then applies them one by one
    /// (`WindowFallback`), each as a window of one.
    public static func apply(_ movements: [VendorMovement], on connection: PostgresConnection) throws -> [VendorApplyResult] {
        try connection.withTransaction { connection in
            let products = Array(Set(movements.map(\.productId))).sorted()
            // The row locks also serialise two windows holding the same movement
            // (same product), so the applied check below cannot go stale.
            var stock: [String: Int] = [:]
            for row in try connection.query(
                "SELECT id, stock FROM products WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE", [PostgresArray(products)]
            ).rows {
                stock[try row.decode(0, as: String.self)] = try row.decode(1, as: Int.self)
            }
            var seen = Set(try connection.query(
                "SELECT movement_id FROM applied_movements WHERE movement_id = ANY($1::uuid[])",
                [PostgresArray(movements.map(\.movementId))]
            ).rows.map { try $0.decode(0, as: UUID.self) })

            // Units each (order, product) has out at this vendor: a restock gives
            // back at most those, so one that overtakes its allocation, or undoes
            // an allocation the vendor refused, never makes stock out of nothing.
            struct OrderProduct: Hashable {
                let orderId: UUID
                let productId: String
            }
            var outstanding: [OrderProduct: Int] = [:]
            let restocks = movements.filter { $0.kind == .restock }
            if !restocks.isEmpty {
                for row in try connection.query(
                    """
                    SELECT order_id, product_id, sum(CASE kind WHEN 'allocate' THEN quantity ELSE -quantity END)::int
                    FROM applied_movements WHERE order_id = ANY($1::uuid[]) AND product_id = ANY($2::text[])
                    GROUP BY order_id, product_id
                    """, [PostgresArray(restocks.map(\.orderId)), PostgresArray(restocks.map(\.productId))]
                ).rows {
                    outstanding[OrderProduct(orderId: try row.decode(0), productId: try row.decode(1))] = try row.decode(2)
                }
            }

            var results: [VendorApplyResult] = []
            var applied: [VendorMovement] = []
            var deltas: [String: Int] = [:]
            for movement in movements {
                let key = OrderProduct(orderId: movement.orderId, productId: movement.productId)
                if seen.contains(movement.movementId) {
                    results.append(.alreadyApplied)
                } else if let reason = refusal(movement, available: stock[movement.productId]) {
                    results.append(.conflicted(reason: reason))
                } else if movement.kind == .restock, movement.quantity > outstanding[key, default: 0] {
                    results.append(.notYetAllocated(
                        reason: "vendor \(movement.vendorId) has \(outstanding[key, default: 0]) of \(movement.productId) allocated to the order, not \(movement.quantity) to restock"))
                } else {
                    outstanding[key, default: 0] += movement.kind == .allocate ? movement.quantity : -movement.quantity
                    let delta = movement.kind == .allocate ? -movement.quantity : movement.quantity
                    stock[movement.productId]! += delta
                    deltas[movement.productId, default: 0] += delta
                    seen.insert(movement.movementId)
                    applied.append(movement)
                    results.append(.applied)
                }
            }
            guard !applied.isEmpty else { return results }
            // No ON CONFLICT: a duplicate here would mean the check above was wrong,
            // and the error sends the window to the one-by-one path.
            try connection.query(
                """
                INSERT INTO applied_movements (movement_id, order_id, product_id, quantity, kind)
                SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::int[], $5::text[])
                """,
                [
                    PostgresArray(applied.map(\.movementId)), PostgresArray(applied.map(\.orderId)),
                    PostgresArray(applied.map(\.productId)), PostgresArray(applied.map(\.quantity)),
                    PostgresArray(applied.map(\.kind.rawValue)),
                ])
            let rows = deltas.filter { $0.value != 0 }.sorted { $0.key < $1.key }
            guard !rows.isEmpty else { return results }
            try connection.query(
                """
                UPDATE products AS p SET stock = p.stock + d.delta, updated_at = now()
                FROM unnest($1::text[], $2::int[]) AS d(id, delta)
                WHERE p.id = d.id
                """, [PostgresArray(rows.map(\.key)), PostgresArray(rows.map(\.value))])
            return results
        }
    }

    /// One movement: the window of one.
    public static func apply(_ movement: VendorMovement, on connection: PostgresConnection) throws -> VendorApplyResult {
        try apply([movement], on: connection)[0]
    }

    /// The vendor's stock and which of `movements` it has applied, in one REPEATABLE READ snapshot.
    public static func snapshot(checking movements: [UUID], on connection: PostgresConnection) throws -> VendorSnapshot {
        try connection.withTransaction(isolation: .repeatableRead) { connection in
            let stock = Dictionary(uniqueKeysWithValues: try connection.query("SELECT id, stock FROM products").rows.map {
                (try $0.decode(0, as: String.self), try $0.decode(1, as: Int.self))
            })
            var applied = Set<UUID>()
            if !movements.isEmpty {
                applied = Set(try connection.query(
                    "SELECT movement_id FROM applied_movements WHERE movement_id = ANY($1::uuid[])",
                    [PostgresArray(movements)]
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
