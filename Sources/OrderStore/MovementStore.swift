import Foundation
import OrderCore
import Postgres
import TextCodecs

/// Where the messages a refused movement implies go.
/// What ordersdb made of a movement its vendor refused.
public enum RefusalOutcome: Sendable, Hashable {
    /// Other vendors took the units over: these allocations, sent through the outbox.
    case reallocated([VendorMovement])
    /// Nobody could take it over: the order is flagged for review with this reason.
    case flagged(reason: String)
    /// The order had already given the units back (cancelled, returned): the
    /// restocks that would undo this allocation are void (CONFLICTED), since
    /// the vendor never gave the units up.
    case restocksVoided(quantity: Int)
    /// Settled by an earlier copy of the same refusal: nothing changed.
    case alreadySettled
}

/// ordersdb's side of vendor sync: the ledger rows of vendor-bound movements
/// (`stock_movements`, kinds allocate and restock) follow what their vendor did.
public enum MovementStore {
    /// Marks movements APPLIED with one statement: the one way ordersdb hears
    /// that a vendor applied a movement, whether vendor-sync-worker writes it
    /// back or stock-sync finds it in the vendor's applied ids. Only PENDING
    /// becomes APPLIED, so two writers marking the same movement (or a
    /// redelivery) change it once; what it returns counts only the movements
    /// this call changed, for ``AppliedMovements/count()`` after the commit.
    ///
    /// `skippingLocked` leaves out a movement another transaction holds (a
    /// vendor-sync marking it, a refusal being settled) instead of waiting for
    /// it: stock-sync, which holds every stock row of the vendor meanwhile,
    /// finds the ones still PENDING on its next pass.
    public static func markApplied(
        _ movementIds: [UUID], skippingLocked: Bool = false, on connection: PostgresConnection
    ) throws -> AppliedMovements {
        guard !movementIds.isEmpty else { return AppliedMovements(byVendor: [:]) }
        let lockFree = skippingLocked ? " FOR UPDATE SKIP LOCKED" : ""
        let vendors = try connection.query(
            """
            UPDATE stock_movements SET status = 'APPLIED', applied_at = now()
            WHERE status = 'PENDING' AND id IN (SELECT id FROM stock_movements WHERE id = ANY($1::uuid[]) AND status = 'PENDING'\(lockFree))
            RETURNING vendor_id
            """,
            [PostgresArray(movementIds)]
        ).rows.map { try $0.decode(0, as: String.self) }
        return AppliedMovements(byVendor: vendors.reduce(into: [:]) { $0[$1, default: 0] += 1 })
    }

    /// Settles a movement its vendor refused, in one transaction: the movement
    /// becomes CONFLICTED and
    /// - a refused allocation of an order that still needs the goods is
    ///   allocated again, for the same line, from the other vendors that have
    ///   the units (`AllocationPolicy`, the refusing vendor left out): new
    ///   allocate movements, their local stock taken, their vendor_sync
    ///   messages and any `inventory.*` event written to the outbox;
    /// - otherwise (no other vendor can cover it, a refused restock, an order
    ///   that no longer holds stock) the order is flagged for review.
    ///
    /// The refusing vendor's local row is left as it is: its figure was taken
    /// when the order was allocated, and stock-sync replaces it with the
    /// vendor's own, which a CONFLICTED movement no longer offsets.
    ///
    /// Locks in the one lock order: the order's row, then the product's
    /// `vendor_stock` rows (product, vendor order), then its stock level.
    /// Only a PENDING movement is settled, so a redelivered refusal changes nothing.
    public static func settleRefusal(
        _ movement: VendorMovement, reason: String, routing: OutboxRouting, on connection: PostgresConnection
    ) throws -> RefusalOutcome {
        try connection.withTransaction { connection in
            let status = try connection.query("SELECT status FROM orders WHERE id = $1 FOR UPDATE", [movement.orderId]).first
                .flatMap { OrderState(rawValue: try $0.decode(0, as: String.self)) }
            guard let lineNumber = try connection.query(
                "UPDATE stock_movements SET status = 'CONFLICTED' WHERE id = $1 AND status = 'PENDING' RETURNING line_no", [movement.movementId]
            ).first.map({ try $0.decode(0, as: Int?.self) }) else {
                return .alreadySettled
            }
            if movement.kind == .allocate, let lineNumber, status?.hasTakenStock != true {
                // A cancel (or return) already sent this allocation's units back:
                // its restock must not reach a vendor that never gave them up.
                let voided = try voidRestocks(undoing: movement, lineNumber: lineNumber, on: connection)
                if voided == movement.quantity { return .restocksVoided(quantity: voided) }
            }
            guard movement.kind == .allocate, let lineNumber, let status, status.hasTakenStock else {
                let why = movement.kind == .restock ? "" : "; not reallocated: the order is \(status?.rawValue ?? "unknown")"
                return try flag(movement.orderId, reason: reason + why, on: connection)
            }
            let others = try StockStatements.lock([movement.productId], on: connection).filter { $0.vendorId != movement.vendorId }
            switch AllocationPolicy.decide(lines: [OrderLine(productId: movement.productId, quantity: movement.quantity)], stock: others) {
            case .reject:
                return try flag(
                    movement.orderId, reason: "\(reason); no other vendor has \(movement.quantity) of \(movement.productId) to take it over",
                    on: connection)
            case .allocate(let plan):
                let movements = plan.map {
                    StockStatements.NewMovement(
                        kind: .allocate, orderId: movement.orderId, lineNumber: lineNumber,
                        vendorId: $0.vendorId, productId: $0.productId, quantity: $0.quantity)
                }
                try StockStatements.applyToStock(movements, on: connection)
                try StockStatements.insertMovements(movements, on: connection)
                // No transition: the order stays as it is, only its vendors change.
                try routing.enqueue(orders: [], movements: movements, on: connection)
                return .reallocated(movements.compactMap(\.vendorMovement))
            }
        }
    }

    /// Marks CONFLICTED the order's PENDING restocks of the refused
    /// allocation's line, vendor and product, oldest first, as long as they fit
    /// in its quantity (a restock that also covers applied units stays, and
    /// waits at the vendor until an operator looks). Returns the units voided.
    private static func voidRestocks(undoing allocation: VendorMovement, lineNumber: Int, on connection: PostgresConnection) throws -> Int {
        let restocks = try connection.query(
            """
            SELECT id, quantity FROM stock_movements
            WHERE order_id = $1 AND line_no = $2 AND vendor_id = $3 AND product_id = $4 AND kind = 'restock' AND status = 'PENDING'
            ORDER BY created_at, id FOR UPDATE
            """, [allocation.orderId, lineNumber, allocation.vendorId, allocation.productId]
        ).rows.map { (id: try $0.decode(0, as: UUID.self), quantity: try $0.decode(1, as: Int.self)) }
        var left = allocation.quantity
        var void: [UUID] = []
        for restock in restocks where restock.quantity <= left {
            left -= restock.quantity
            void.append(restock.id)
        }
        guard !void.isEmpty else { return 0 }
        try connection.query("UPDATE stock_movements SET status = 'CONFLICTED' WHERE id = ANY($1::uuid[])", [PostgresArray(void)])
        return allocation.quantity - left
    }

    /// Units of restocks to the allocation's vendor of its product still on
    /// their way (PENDING). Local stock counts them at once, the vendor only
    /// when they arrive, so an allocation of those units can reach the vendor
    /// first. Only restocks that can land count: not its own order's (they
    /// undo this very allocation and wait for it in turn), nor any whose own
    /// allocation the vendor has not applied yet (two such waits would wait
    /// for each other until both reached the DLQ).
    public static func pendingRestockUnits(for allocation: VendorMovement, on connection: PostgresConnection) throws -> Int {
        try connection.query(
            """
            SELECT coalesce(sum(r.quantity), 0)::int FROM stock_movements r
            WHERE r.vendor_id = $1 AND r.product_id = $2 AND r.kind = 'restock' AND r.status = 'PENDING' AND r.order_id <> $3
              AND EXISTS (
                SELECT 1 FROM stock_movements a
                WHERE a.order_id = r.order_id AND a.vendor_id = r.vendor_id AND a.product_id = r.product_id
                  AND a.kind = 'allocate' AND a.status = 'APPLIED')
            """, [allocation.vendorId, allocation.productId, allocation.orderId]
        ).singleRow().decode(0)
    }

    /// Which of these vendor-bound movements ordersdb has settled as
    /// CONFLICTED: an allocation refused (and reallocated), a restock void.
    /// A copy of one that reaches its vendor again is not applied.
    public static func conflicted(_ movementIds: [UUID], on connection: PostgresConnection) throws -> Set<UUID> {
        guard !movementIds.isEmpty else { return [] }
        return Set(try connection.query(
            "SELECT id FROM stock_movements WHERE id = ANY($1::uuid[]) AND status = 'CONFLICTED'", [PostgresArray(movementIds)]
        ).rows.map { try $0.decode(0, as: UUID.self) })
    }

    /// Flags the order for an operator: a movement of it is in the DLQ,
    /// PENDING, after its retries were spent.
    public static func flagStuck(_ movement: VendorMovement, reason: String, on connection: PostgresConnection) throws {
        _ = try flag(
            movement.orderId,
            reason: "\(movement.kind.rawValue) \(UUIDText.string(movement.movementId)) at \(movement.vendorId) is in the DLQ (\(reason)); replay it once its allocation is applied",
            on: connection)
    }

    private static func flag(_ orderId: UUID, reason: String, on connection: PostgresConnection) throws -> RefusalOutcome {
        try OrderReview.flag(orderId, reason: reason, on: connection)
        return .flagged(reason: reason)
    }
}
