import Foundation
import Postgres

/// What one vendor's sync did.
public struct VendorSyncOutcome: Sendable, Hashable {
    public let vendor: String
    /// Products whose local figure was written.
    public let products: Int
    /// Units held back because the vendor had not applied them yet.
    public let unappliedUnits: Int
}

/// Pulls a vendor's stock into ordersdb without re-inflating it.
///
/// local(vendor, product) = vendor's stock − allocations of that vendor and
/// product that the vendor had not applied when its stock was read. The
/// vendor's stock and its applied allocation ids come from one snapshot, and
/// the local rows of the vendor stay locked (FOR UPDATE, product order, the
/// same order the worker locks in) from before the pending allocations are
/// read until the new figures are written, so no order can slip between.
public enum StockSynchronizer {
    /// The advisory lock that keeps two stock-sync runs from overlapping.
    public static let advisoryLockKey: Int64 = 0x5354_4F43_4B53_594E  // "STOCKSYN"

    public static func sync(vendor: String, local: PostgresConnection, vendorDatabase: PostgresConnection) throws -> VendorSyncOutcome {
        try local.withTransaction { local in
            try local.query("INSERT INTO vendors (id, name) VALUES ($1, $1) ON CONFLICT DO NOTHING", [vendor])
            try local.query("SELECT product_id FROM vendor_stock WHERE vendor_id = $1 ORDER BY product_id FOR UPDATE", [vendor])
            let pending = try local.query(
                "SELECT id, product_id, quantity FROM stock_movements WHERE vendor_id = $1 AND status = 'PENDING'", [vendor]
            ).rows.map { (id: try $0.decode(0, as: UUID.self), product: try $0.decode(1, as: String.self), quantity: try $0.decode(2, as: Int.self)) }

            let snapshot = try VendorStore.snapshot(checking: pending.map(\.id), on: vendorDatabase)

            var unapplied: [String: Int] = [:]
            for allocation in pending where !snapshot.applied.contains(allocation.id) {
                unapplied[allocation.product, default: 0] += allocation.quantity
            }
            let products = snapshot.stock.keys.sorted()
            let figures = products.map { max(0, snapshot.stock[$0]! - unapplied[$0, default: 0]) }
            if !products.isEmpty {
                try local.query(
                    "INSERT INTO products (id, name) SELECT id, id FROM unnest($1::text[]) AS t(id) ON CONFLICT DO NOTHING",
                    [PostgresArray(products)])
                try local.query(
                    """
                    INSERT INTO vendor_stock (product_id, vendor_id, stock, synced_at)
                    SELECT d.product_id, $1, d.stock, now() FROM unnest($2::text[], $3::int[]) AS d(product_id, stock)
                    ON CONFLICT (product_id, vendor_id) DO UPDATE SET stock = EXCLUDED.stock, synced_at = EXCLUDED.synced_at
                    """, [vendor, PostgresArray(products), PostgresArray(figures)])
            }
            return VendorSyncOutcome(vendor: vendor, products: products.count, unappliedUnits: unapplied.values.reduce(0, +))
        }
    }

    /// Takes the run lock: waits for it, or (`wait: false`) returns false when another run holds it.
    public static func lock(on connection: PostgresConnection, wait: Bool) throws -> Bool {
        if wait {
            try connection.query("SELECT pg_advisory_lock($1::bigint)", [advisoryLockKey])
            return true
        }
        return try connection.query("SELECT pg_try_advisory_lock($1::bigint)", [advisoryLockKey]).singleRow().decode(0, as: Bool.self)
    }

    public static func unlock(on connection: PostgresConnection) throws {
        try connection.query("SELECT pg_advisory_unlock($1::bigint)", [advisoryLockKey])
    }
}
