import Foundation
import OrderCore
import Postgres
import ServiceSupport
import TextCodecs

/// The statements ordersdb's writers use for lines, stock and the movement
/// ledger, each one statement for a whole window.
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

    /// Changes `vendor_stock` by each movement's effect (allocate and hold
    /// take, release and restock give back), summed per (product, vendor),
    /// with one statement. The caller has locked the rows (`lock`; `commit`
    /// does): the statement's own locking order is the join's, not the lock order.
    static func applyToStock(_ movements: [NewMovement], on connection: PostgresConnection) throws {
        var deltas: [StockKey: Int] = [:]
        for movement in movements {
            deltas[StockKey(productId: movement.productId, vendorId: movement.vendorId), default: 0] += movement.stockDelta
        }
        let rows = deltas.filter { $0.value != 0 }.sorted { ($0.key.productId, $0.key.vendorId) < ($1.key.productId, $1.key.vendorId) }
        guard !rows.isEmpty else { return }
        try connection.query(
            """
            UPDATE vendor_stock AS s SET stock = s.stock + d.delta
            FROM unnest($1::text[], $2::text[], $3::int[]) AS d(product_id, vendor_id, delta)
            WHERE s.product_id = d.product_id AND s.vendor_id = d.vendor_id
            """, [PostgresArray(rows.map(\.key.productId)), PostgresArray(rows.map(\.key.vendorId)), PostgresArray(rows.map(\.value))])
    }

    /// A row of the ledger (`stock_movements`) about to be written.
    struct NewMovement {
        let id: UUID
        let kind: StockMovementKind
        let orderId: UUID?
        let lineNumber: Int?
        let reservationId: UUID?
        let vendorId: String
        let productId: String
        let quantity: Int

        init(id: UUID = RandomUUID.make(), kind: StockMovementKind, orderId: UUID?, lineNumber: Int?, reservationId: UUID? = nil,
             vendorId: String, productId: String, quantity: Int) {
            self.id = id
            self.kind = kind
            self.orderId = orderId
            self.lineNumber = lineNumber
            self.reservationId = reservationId
            self.vendorId = vendorId
            self.productId = productId
            self.quantity = quantity
        }

        /// What it does to local available stock.
        var stockDelta: Int { kind.takesStock ? -quantity : quantity }

        /// The vendor_sync message of a vendor-bound movement (allocate, restock); nil for hold and release.
        var vendorMovement: VendorMovement? {
            guard let vendorKind = kind.vendorKind, let orderId else { return nil }
            return VendorMovement(movementId: id, kind: vendorKind, orderId: orderId, vendorId: vendorId, productId: productId, quantity: quantity)
        }
    }

    /// `plan`'s shares as movements of one kind for `orderId` (and/or a reservation), each with a fresh id.
    static func movements(_ plan: [PlannedAllocation], kind: StockMovementKind, orderId: UUID?, reservationId: UUID? = nil) -> [NewMovement] {
        plan.map {
            NewMovement(kind: kind, orderId: orderId, lineNumber: orderId == nil ? nil : $0.lineNumber, reservationId: reservationId,
                        vendorId: $0.vendorId, productId: $0.productId, quantity: $0.quantity)
        }
    }

    /// Writes movements to the ledger with one statement: vendor-bound kinds
    /// PENDING (until vendor-sync applies them), local kinds LOCAL.
    static func insertMovements(_ movements: [NewMovement], on connection: PostgresConnection) throws {
        guard !movements.isEmpty else { return }
        try connection.query(
            """
            INSERT INTO stock_movements (id, kind, status, order_id, line_no, reservation_id, vendor_id, product_id, quantity)
            SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::int[], $6::uuid[], $7::text[], $8::text[], $9::int[])
            """,
            [
                PostgresArray(movements.map(\.id)), PostgresArray(movements.map(\.kind.rawValue)),
                PostgresArray(movements.map { $0.kind.vendorKind == nil ? "LOCAL" : "PENDING" }),
                PostgresArray(optional: movements.map { $0.orderId.map(UUIDText.string) }),
                PostgresArray(optional: movements.map { $0.lineNumber.map(String.init) }),
                PostgresArray(optional: movements.map { $0.reservationId.map(UUIDText.string) }),
                PostgresArray(movements.map(\.vendorId)), PostgresArray(movements.map(\.productId)), PostgresArray(movements.map(\.quantity)),
            ])
    }

    /// Writes movements to the ledger and applies them to local stock: the
    /// two halves of every stock change outside the worker's window. The rows
    /// are locked first with `lock`, in the worker's order: an UPDATE … FROM
    /// unnest locks rows in whatever order its join produces them, and two
    /// such orders deadlock (a cancel against a worker's window did).
    static func commit(_ movements: [NewMovement], on connection: PostgresConnection) throws {
        guard !movements.isEmpty else { return }
        _ = try lock(Array(Set(movements.map(\.productId))).sorted(), on: connection)
        try applyToStock(movements, on: connection)
        try insertMovements(movements, on: connection)
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

    /// A vendor-bound `stock_movements` row read as `id, vendor_id, product_id,
    /// quantity, kind` from column `first` on.
    static func vendorMovement(_ row: PostgresRow, orderId: UUID, from first: Int) throws -> VendorMovement {
        VendorMovement(
            movementId: try row.decode(first), kind: VendorMovement.Kind(rawValue: try row.decode(first + 4)) ?? .allocate,
            orderId: orderId, vendorId: try row.decode(first + 1),
            productId: try row.decode(first + 2), quantity: try row.decode(first + 3))
    }
}
