import Foundation
import OrderCore
import Postgres
import ServiceSupport
import TextCodecs

/// A reservation as the API shows it: stock held until `expiresAt`.
public struct ReservationDetails: Sendable, Hashable, Codable {
    public struct Item: Sendable, Hashable, Codable {
        public let productId: String
        public let quantity: Int
    }

    @LowercaseUUID public var reservationId: UUID
    /// ACTIVE, CONSUMED, RELEASED or EXPIRED.
    public let status: String
    public let expiresAt: Date
    /// The order whose hold it is, or that consumed it (lower case); nil for a live checkout hold.
    public let orderId: String?
    public let createdAt: Date
    public let endedAt: Date?
    /// What it held, per product.
    public let items: [Item]
}

/// What `POST /inventory/check-availability` answers for one item.
public struct ItemAvailability: Sendable, Hashable, Codable {
    public let productId: String
    public let available: Bool
    public let requestedQuantity: Int
    public let availableQuantity: Int
}

/// Reservations (stock held until a deadline, migrations/0003): checkout
/// holds (seed 001) that an order later consumes, and their end by release
/// or expiry, for checkout holds and orders' holds alike (the sweeper).
///
/// Lock order, as everywhere: orders row → reservations row → vendor_stock
/// rows (product, vendor) → product_stock_levels.
public enum Reservations {
    /// Whether each item could be reserved now: the stock summed over vendors.
    /// Two items of one product are answered together (`available` is
    /// false for both when their sum exceeds the stock).
    public static func availability(of items: [OrderLine], on connection: PostgresConnection) throws -> [ItemAvailability] {
        let stock = try stockByProduct(Array(Set(items.map(\.productId))), on: connection)
        var wanted: [String: Int] = [:]
        for item in items { wanted[item.productId, default: 0] += item.quantity }
        return items.map { item in
            let available = stock[item.productId] ?? 0
            return ItemAvailability(
                productId: item.productId, available: wanted[item.productId, default: 0] <= available,
                requestedQuantity: item.quantity, availableQuantity: available)
        }
    }

    /// Holds `items` for `seconds` (a checkout hold: no order yet), taking
    /// the stock the way an order would (AllocationPolicy), as `hold`
    /// movements. Refused with `insufficient-stock` when any product falls short.
    public static func create(
        items: [OrderLine], seconds: Int, routing: OutboxRouting, on connection: PostgresConnection
    ) throws -> ReservationDetails {
        let id = RandomUUID.make()
        return try connection.withTransaction { connection in
            try connection.query(
                "INSERT INTO reservations (id, expires_at) VALUES ($1, now() + make_interval(secs => $2))", [id, seconds])
            let stock = try StockStatements.lock(Array(Set(items.map(\.productId))).sorted(), on: connection)
            switch AllocationPolicy.decide(lines: items, stock: stock) {
            case .reject(let reason):
                throw CommandRefusal(.conflict, code: "insufficient-stock", message: reason)
            case .allocate(let plan):
                let holds = StockStatements.movements(plan, kind: .hold, orderId: nil, reservationId: id)
                try StockStatements.commit(holds, on: connection)
                try routing.enqueue(orders: [], movements: holds, on: connection)
            }
            return try details(id, on: connection)!
        }
    }

    /// Ends a live checkout hold: its units come back (`release` movements).
    /// An order's own hold ends with the order (cancel it), not here.
    public static func release(_ id: UUID, routing: OutboxRouting, on connection: PostgresConnection) throws -> ReservationDetails {
        try connection.withTransaction { connection in
            guard let row = try connection.query("SELECT status, order_id FROM reservations WHERE id = $1 FOR UPDATE", [id]).first else {
                throw CommandRefusal(.notFound, code: "reservation-not-found", message: "no reservation \(UUIDText.string(id))")
            }
            let status: String = try row.decode(0)
            guard status == "ACTIVE" else {
                throw CommandRefusal(.conflict, code: "reservation-ended", message: "the reservation is \(status)")
            }
            if let orderId = try row.decode(1, as: UUID?.self) {
                throw CommandRefusal(
                    .conflict, code: "reservation-belongs-to-order",
                    message: "the reservation holds stock for order \(UUIDText.string(orderId)); cancel the order to release it")
            }
            let releases = try end([id], as: "RELEASED", on: connection)
            try routing.enqueue(orders: [], movements: releases, on: connection)
            return try details(id, on: connection)!
        }
    }

    public static func details(_ id: UUID, on connection: PostgresConnection) throws -> ReservationDetails? {
        guard let row = try connection.query(
            "SELECT status, expires_at, order_id, created_at, ended_at FROM reservations WHERE id = $1", [id]
        ).first else { return nil }
        let items = try connection.query(
            """
            SELECT product_id, sum(quantity)::int FROM stock_movements
            WHERE reservation_id = $1 AND kind = 'hold' GROUP BY product_id ORDER BY product_id
            """, [id]
        ).rows.map { ReservationDetails.Item(productId: try $0.decode(0), quantity: try $0.decode(1)) }
        return ReservationDetails(
            reservationId: id, status: try row.decode(0), expiresAt: try row.decode(1),
            orderId: try row.decode(2, as: UUID?.self).map(UUIDText.string), createdAt: try row.decode(3),
            endedAt: try row.decode(4, as: Date?.self), items: items)
    }

    // MARK: Expiry (the sweeper)

    /// The states an order's hold can expire in: those `decide` lets
    /// `reservationExpired` move (a PAID order waits for its confirmation).
    static let expirableStates = OrderState.allCases.filter {
        if case .transition = OrderLifecycle.decide($0, .reservationExpired) { return true }
        return false
    }

    /// How many reservations hold stock now (ACTIVE: checkout holds and orders' holds).
    public static func activeCount(on connection: PostgresConnection) throws -> Int {
        try connection.query("SELECT count(*) FROM reservations WHERE status = 'ACTIVE'").first?.decode(0, as: Int.self) ?? 0
    }

    /// Expires up to `limit` checkout holds past their deadline, in one
    /// transaction: EXPIRED, their units released. Rows another instance
    /// (or an order consuming the hold) has locked are skipped, not waited
    /// for. Returns how many expired.
    public static func expireCheckoutHolds(limit: Int, routing: OutboxRouting, on connection: PostgresConnection) throws -> Int {
        try connection.withTransaction { connection in
            let ids = try connection.query(
                """
                SELECT id FROM reservations
                WHERE status = 'ACTIVE' AND order_id IS NULL AND expires_at <= now()
                ORDER BY expires_at LIMIT $1
                FOR UPDATE SKIP LOCKED
                """, [limit]
            ).rows.map { try $0.decode(0, as: UUID.self) }
            guard !ids.isEmpty else { return 0 }
            let releases = try end(ids, as: "EXPIRED", on: connection)
            try routing.enqueue(orders: [], movements: releases, on: connection)
            return ids.count
        }
    }

    /// Cancels up to `limit` orders whose hold ran out (`reservation-expired`),
    /// in one transaction: the orders' rows are locked first (skipping those
    /// another transaction holds), then their reservations, as the lock
    /// order asks. Returns how many were cancelled.
    public static func expireOrderHolds(limit: Int, routing: OutboxRouting, on connection: PostgresConnection) throws -> Int {
        try connection.withTransaction { try expireOrderHolds(limit: limit, routing: routing, inTransactionOn: $0) }
    }

    /// ``expireOrderHolds(limit:routing:on:)`` inside the caller's transaction:
    /// a test that makes a hold run out and sweeps it in one transaction is
    /// sure no other sweeper on the database saw it expired first.
    static func expireOrderHolds(limit: Int, routing: OutboxRouting, inTransactionOn connection: PostgresConnection) throws -> Int {
        let candidates = try connection.query(
            """
            SELECT o.id, o.status FROM reservations r JOIN orders o ON o.id = r.order_id
            WHERE r.status = 'ACTIVE' AND r.expires_at <= now() AND o.status = ANY($2::text[])
            ORDER BY r.expires_at LIMIT $1
            FOR UPDATE OF o SKIP LOCKED
            """, [limit, PostgresArray(expirableStates.map(\.rawValue))]
        ).rows
        var states: [UUID: OrderState] = [:]
        for row in candidates { states[try row.decode(0)] = OrderState(rawValue: try row.decode(1)) ?? .failed }
        var transitions: [(orderId: UUID, transition: OrderTransition)] = []
        for (orderId, state) in states.sorted(by: { $0.key < $1.key }) {
            if case .transition(let transition) = OrderLifecycle.decide(state, .reservationExpired) { transitions.append((orderId, transition)) }
        }
        guard !transitions.isEmpty else { return 0 }
        let orderIds = transitions.map(\.orderId)
        let releases = try endOrderHolds(orderIds, as: "EXPIRED", on: connection)
        let recorded = try OrderHistory.record(transitions, actor: .system, on: connection)
        var payments: [PaymentCommand] = []
        for (entry, transition) in zip(recorded, transitions) {
            payments += try Payments.commands(for: transition.transition.effects, of: entry, on: connection)
        }
        try routing.enqueue(orders: orderIds, movements: releases, payments: payments, on: connection)
        return transitions.count
    }

    // MARK: Shared by the commands

    /// Ends the ACTIVE holds of orders whose rows the caller locked (status
    /// `status`: RELEASED for a cancel or a decline, EXPIRED for the
    /// sweeper), their units back to available stock, and clears the orders'
    /// `reserved_until`. Returns the release movements.
    static func endOrderHolds(_ orderIds: [UUID], as status: String, on connection: PostgresConnection) throws -> [StockStatements.NewMovement] {
        let reservationIds = try connection.query(
            "SELECT id FROM reservations WHERE order_id = ANY($1::uuid[]) AND status = 'ACTIVE' ORDER BY id FOR UPDATE", [PostgresArray(orderIds)]
        ).rows.map { try $0.decode(0, as: UUID.self) }
        try connection.query("UPDATE orders SET reserved_until = NULL WHERE id = ANY($1::uuid[])", [PostgresArray(orderIds)])
        return try end(reservationIds, as: status, on: connection)
    }

    /// The hold of an order whose row the caller locked becomes its allocation
    /// (a paid order confirmed): the hold is CONSUMED by its own order, a
    /// `release` and an `allocate` of the same units per held share
    /// (`HoldConsumption`), the vendors told by the allocations. Returns the movements.
    static func commitOrderHold(_ orderId: UUID, on connection: PostgresConnection) throws -> [StockStatements.NewMovement] {
        let reservationIds = try connection.query(
            "SELECT id FROM reservations WHERE order_id = $1 AND status = 'ACTIVE' ORDER BY id", [orderId]
        ).rows.map { try $0.decode(0, as: UUID.self) }
        // PAID is never expired by the sweeper, so a paid order still has its hold; without one there is nothing to confirm from.
        guard !reservationIds.isEmpty else { throw MissingHold(orderId: orderId) }
        let held = try HoldConsumption.lock(reservationIds, on: connection)
        let lines = try connection.query("SELECT product_id, quantity FROM order_lines WHERE order_id = $1 ORDER BY line_no", [orderId]).rows.map {
            OrderLine(productId: try $0.decode(0), quantity: try $0.decode(1))
        }
        let movements = reservationIds.compactMap { held[$0] }.flatMap { HoldConsumption.movements(consuming: $0, orderId: orderId, lines: lines) }
        try connection.query(
            "UPDATE reservations SET status = 'CONSUMED', ended_at = now() WHERE id = ANY($1::uuid[])", [PostgresArray(reservationIds)])
        try connection.query("UPDATE orders SET reserved_until = NULL WHERE id = $1", [orderId])
        try StockStatements.commit(movements, on: connection)
        return movements
    }

    /// A paid order whose stock hold is gone: a defect to retry and, failing that, to dead-letter for an operator.
    struct MissingHold: Error, CustomStringConvertible {
        let orderId: UUID
        var description: String { "order \(UUIDText.string(orderId)) has no ACTIVE hold to confirm" }
    }

    /// Ends reservations the caller has locked (status `status`, ended now)
    /// and gives their held units back: a `release` movement per unit still
    /// held (holds minus releases) per order line, vendor and product,
    /// written and applied to stock. Returns the movements.
    static func end(_ ids: [UUID], as status: String, on connection: PostgresConnection) throws -> [StockStatements.NewMovement] {
        guard !ids.isEmpty else { return [] }
        let releases = try connection.query(
            """
            SELECT reservation_id, order_id, line_no, vendor_id, product_id,
                sum(CASE kind WHEN 'hold' THEN quantity ELSE -quantity END)::int AS held
            FROM stock_movements
            WHERE reservation_id = ANY($1::uuid[]) AND kind IN ('hold', 'release')
            GROUP BY reservation_id, order_id, line_no, vendor_id, product_id
            HAVING sum(CASE kind WHEN 'hold' THEN quantity ELSE -quantity END) > 0
            ORDER BY product_id, vendor_id
            """, [PostgresArray(ids)]
        ).rows.map { row in
            StockStatements.NewMovement(
                kind: .release, orderId: try row.decode(1, as: UUID?.self), lineNumber: try row.decode(2, as: Int?.self),
                reservationId: try row.decode(0, as: UUID.self), vendorId: try row.decode(3), productId: try row.decode(4),
                quantity: try row.decode(5))
        }
        try connection.query(
            "UPDATE reservations SET status = $2, ended_at = now() WHERE id = ANY($1::uuid[])", [PostgresArray(ids), status])
        try StockStatements.commit(releases, on: connection)
        return releases
    }

    /// Available stock per product, summed over vendors (products with no stock row are absent).
    static func stockByProduct(_ products: [String], on connection: PostgresConnection) throws -> [String: Int] {
        Dictionary(uniqueKeysWithValues: try connection.query(
            "SELECT product_id, sum(stock)::int FROM vendor_stock WHERE product_id = ANY($1::text[]) GROUP BY product_id",
            [PostgresArray(products)]
        ).rows.map { (try $0.decode(0, as: String.self), try $0.decode(1, as: Int.self)) })
    }
}
