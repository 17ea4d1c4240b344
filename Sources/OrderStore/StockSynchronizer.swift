import Foundation
import OrderCore
import Postgres

/// What one vendor's sync did.
public struct VendorSyncOutcome: Sendable, Hashable {
    public let vendor: String
    /// Products whose local figure was written.
    public let products: Int
    /// Net units of the vendor-bound movements the vendor had not applied yet
    /// (allocations count positive, restocks negative), held back from its figure.
    public let unappliedUnits: Int
    /// Units held by live reservations at the vendor, held back from its figure.
    public let heldUnits: Int
    /// Units the vendor reported too few to cover what is unapplied and held,
    /// per product: those figures were written as 0 (see `StockSynchronizer`).
    public let shortfall: [String: Int]
    /// The movements the vendor had applied that ordersdb still showed
    /// PENDING (vendor-sync's write-back never reached ordersdb), marked
    /// APPLIED by this run; count them once it has committed.
    public let reconciled: AppliedMovements
}

/// Pulls a vendor's stock into ordersdb without re-inflating or deflating it
/// (DESIGN.md "Stock movements"):
///
///     local(vendor, product) = vendor's stock
///                            − net of that vendor's movements it had not applied when its stock was read
///                              (PENDING, not in the snapshot's applied set; allocate +q, restock −q)
///                            − units held by ACTIVE reservations there (Σhold − Σrelease)
///
/// The vendor's stock and its applied movement ids come from one snapshot.
/// A PENDING movement the snapshot shows applied is marked APPLIED in the
/// same transaction, as vendor-sync's write-back would have
/// (`MovementStore.markApplied`): when that write-back failed after the
/// vendor committed (ordersdb away at that moment), no operator is needed.
/// Every ACTIVE reservation holding stock at the vendor is locked (FOR SHARE)
/// and then the local stock rows of the vendor's products (FOR UPDATE,
/// product then vendor order): the lock order every writer takes them in, so from before the ledger is read until
/// the new figures are written no hold can end or be consumed (consuming one
/// changes no stock row) and no order can take stock. The ledger is read in
/// one statement, so it is one consistent state. A row that appeared after
/// the rows were listed (a product added meanwhile) is not locked, so it is
/// not written until the next run.
///
/// A figure below 0 means the vendor now has fewer units than are held or
/// promised to it: 0 is written (no more can be sold), the shortfall is
/// reported, and the allocations that follow are refused by the vendor and
/// reallocated or flagged for review (`MovementStore.settleRefusal`).
public enum StockSynchronizer {
    /// The advisory lock that keeps two stock-sync runs from overlapping.
    public static let advisoryLockKey: Int64 = 0x5354_4F43_4B53_594E  // "STOCKSYN"

    /// How long a run waits for one row lock. A run locks every product of
    /// the vendor in order, so waiting behind one long-held row (an operator's
    /// open transaction, a stuck session) would hold all the rows before it and
    /// stall orders for those products for as long. Past this the vendor's run
    /// fails with SQLSTATE 55P03, gives its locks back, and the next interval
    /// tries again.
    public static let lockTimeoutMilliseconds = 2_000

    public static func sync(
        vendor: String, local: PostgresConnection, vendorDatabase: PostgresConnection, stockLevels: StockLevelPolicy, eventsExchange: String
    ) throws -> VendorSyncOutcome {
        try local.withTransaction { local in
            try local.query("SELECT set_config('lock_timeout', $1, true)", ["\(lockTimeoutMilliseconds)ms"])
            try local.query("INSERT INTO vendors (id, name) VALUES ($1, $1) ON CONFLICT DO NOTHING", [vendor])
            try local.query(
                """
                SELECT r.id FROM reservations r
                WHERE r.status = 'ACTIVE' AND EXISTS (SELECT 1 FROM stock_movements m WHERE m.reservation_id = r.id AND m.vendor_id = $1)
                ORDER BY r.id FOR SHARE OF r
                """, [vendor])
            // Every vendor's row of the vendor's products, as every writer locks them, so
            // the stock levels below see the products' sums one transaction after another.
            let products = try local.query("SELECT product_id FROM vendor_stock WHERE vendor_id = $1", [vendor]).rows.map { try $0.decode(0, as: String.self) }
            var current: [String: Int] = [:]
            for row in try StockStatements.lock(products, on: local) where row.vendorId == vendor { current[row.productId] = row.stock }
            // Pending vendor-bound movements one by one (the snapshot says which it
            // applied), then the live holds summed per product, with the id NULL.
            let ledger = try local.query(
                """
                SELECT id, product_id, CASE kind WHEN 'allocate' THEN quantity ELSE -quantity END
                FROM stock_movements WHERE vendor_id = $1 AND status = 'PENDING'
                UNION ALL
                SELECT NULL, m.product_id, sum(CASE m.kind WHEN 'hold' THEN m.quantity ELSE -m.quantity END)::int
                FROM stock_movements m JOIN reservations r ON r.id = m.reservation_id
                WHERE m.vendor_id = $1 AND m.kind IN ('hold', 'release') AND r.status = 'ACTIVE'
                GROUP BY m.product_id
                """, [vendor]
            ).rows.map { (id: try $0.decode(0, as: UUID?.self), product: try $0.decode(1, as: String.self), units: try $0.decode(2, as: Int.self)) }

            let snapshot = try VendorStore.snapshot(checking: ledger.compactMap(\.id), on: vendorDatabase)

            var unapplied: [String: Int] = [:]
            var held: [String: Int] = [:]
            var appliedThere: [UUID] = []
            for entry in ledger {
                if let id = entry.id {
                    if snapshot.applied.contains(id) { appliedThere.append(id) } else { unapplied[entry.product, default: 0] += entry.units }
                } else {
                    held[entry.product, default: 0] += entry.units
                }
            }
            var figures: [String: Int] = [:]
            var shortfall: [String: Int] = [:]
            for (product, stock) in snapshot.stock {
                let figure = stock - unapplied[product, default: 0] - held[product, default: 0]
                if figure < 0 { shortfall[product] = -figure }
                figures[product] = max(0, figure)
            }
            // Only the rows locked above are overwritten. A product whose row
            // appeared after the list was read is not locked: an order may take
            // its stock after the ledger was read, and writing the figure would
            // put those units back (an oversell). It is left to the next run; a
            // product with no row here at all is created.
            let locked = figures.keys.filter { current[$0] != nil }.sorted()
            let unseen = figures.keys.filter { current[$0] == nil }.sorted()
            if !locked.isEmpty {
                try local.query(
                    """
                    UPDATE vendor_stock s SET stock = d.stock, synced_at = now()
                    FROM unnest($2::text[], $3::int[]) AS d(product_id, stock)
                    WHERE s.product_id = d.product_id AND s.vendor_id = $1
                    """, [vendor, PostgresArray(locked), PostgresArray(locked.map { figures[$0]! })])
            }
            var created: [String] = []
            if !unseen.isEmpty {
                try local.query(
                    "INSERT INTO products (id, name) SELECT id, id FROM unnest($1::text[]) AS t(id) ON CONFLICT DO NOTHING",
                    [PostgresArray(unseen)])
                created = try local.query(
                    """
                    INSERT INTO vendor_stock (product_id, vendor_id, stock, synced_at)
                    SELECT d.product_id, $1, d.stock, now() FROM unnest($2::text[], $3::int[]) AS d(product_id, stock)
                    ON CONFLICT (product_id, vendor_id) DO NOTHING
                    RETURNING product_id
                    """, [vendor, PostgresArray(unseen), PostgresArray(unseen.map { figures[$0]! })]
                ).rows.map { try $0.decode(0, as: String.self) }
            }
            let written = locked + created
            let changed = written.filter { current[$0] != figures[$0] }.sorted()
            try InventoryLevels.update(changed, policy: stockLevels, exchange: eventsExchange, on: local)
            // Last, so the movement rows are locked for the shortest time: a vendor-sync
            // marking the same ones waits for this commit and then changes nothing, and
            // one it is marking already is left to it.
            let reconciled = try MovementStore.markApplied(appliedThere, skippingLocked: true, on: local)
            return VendorSyncOutcome(
                vendor: vendor, products: written.count, unappliedUnits: unapplied.values.reduce(0, +),
                heldUnits: held.values.reduce(0, +), shortfall: shortfall.filter { current[$0.key] != nil || created.contains($0.key) },
                reconciled: reconciled)
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
