import Foundation
import OrderCore
import Postgres
import TextCodecs

/// A reservation as the worker finds it when an order names it, with the
/// units it holds.
struct HeldReservation {
    struct Hold {
        let vendorId: String
        let productId: String
        let quantity: Int
    }

    let id: UUID
    let orderId: UUID?
    var status: String
    /// Past its deadline by the database's clock, whether or not the sweeper ended it yet.
    let expired: Bool
    var holds: [Hold]
}

/// The worker's side of reservations: holding an order's stock while it is
/// paid for (RESERVED) and consuming a checkout hold the order names. Each
/// is one statement for the whole window.
enum HoldConsumption {
    /// Locks and reads the reservations (in id order: the lock order between
    /// windows) with their `hold` movements.
    static func lock(_ ids: [UUID], on connection: PostgresConnection) throws -> [UUID: HeldReservation] {
        guard !ids.isEmpty else { return [:] }
        var found: [UUID: HeldReservation] = [:]
        for row in try connection.query(
            """
            SELECT id, order_id, status, expires_at <= now() FROM reservations
            WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE
            """, [PostgresArray(Array(Set(ids)))]
        ).rows {
            let id: UUID = try row.decode(0)
            found[id] = HeldReservation(
                id: id, orderId: try row.decode(1, as: UUID?.self), status: try row.decode(2), expired: try row.decode(3), holds: [])
        }
        guard !found.isEmpty else { return found }
        for row in try connection.query(
            """
            SELECT reservation_id, vendor_id, product_id, quantity FROM stock_movements
            WHERE reservation_id = ANY($1::uuid[]) AND kind = 'hold' ORDER BY reservation_id, product_id, vendor_id
            """, [PostgresArray(Array(found.keys))]
        ).rows {
            let id: UUID = try row.decode(0)
            found[id]?.holds.append(HeldReservation.Hold(vendorId: try row.decode(1), productId: try row.decode(2), quantity: try row.decode(3)))
        }
        return found
    }

    /// Why `order` cannot consume `reservation` (the order's REJECTED reason),
    /// or nil when it can: the hold must be live and hold exactly the
    /// order's units, product by product.
    static func refusal(_ reservation: HeldReservation?, for order: OrderPlaced) -> String? {
        guard let reservation else { return "reservation-not-found: no reservation \(UUIDText.string(order.reservationId ?? UUID()))" }
        switch reservation.status {
        case "CONSUMED": return "reservation-consumed: another order already used it"
        case "RELEASED": return "reservation-released: it was released before the order reached it"
        case "EXPIRED": return "reservation-expired: it expired before the order reached it"
        default: break
        }
        if reservation.orderId != nil { return "reservation-consumed: it holds stock for another order" }
        if reservation.expired { return "reservation-expired: it expired before the order reached it" }
        let held = Dictionary(reservation.holds.map { ($0.productId, $0.quantity) }, uniquingKeysWith: +)
        let asked = Dictionary(order.lines.map { ($0.productId, $0.quantity) }, uniquingKeysWith: +)
        guard held == asked else {
            func text(_ units: [String: Int]) -> String { units.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: ", ") }
            return "reservation-mismatch: it holds \(text(held)), the order asks for \(text(asked))"
        }
        return nil
    }

    /// The hold becomes the order's allocation: per held share a `release`
    /// (back to available) and an `allocate` of the same vendor and units
    /// (taken again, vendor told), spread over the order's lines (in line
    /// order) of that product. Local stock does not change. Used for a
    /// checkout hold an order names and for a paid order's own hold.
    static func movements(consuming reservation: HeldReservation, orderId: UUID, lines: [OrderLine]) -> [StockStatements.NewMovement] {
        var remaining = lines.enumerated().map { (lineNumber: $0.offset + 1, productId: $0.element.productId, quantity: $0.element.quantity) }
        var movements: [StockStatements.NewMovement] = []
        for hold in reservation.holds {
            movements.append(StockStatements.NewMovement(
                kind: .release, orderId: orderId, lineNumber: nil, reservationId: reservation.id,
                vendorId: hold.vendorId, productId: hold.productId, quantity: hold.quantity))
            var left = hold.quantity
            for index in remaining.indices where left > 0 && remaining[index].productId == hold.productId && remaining[index].quantity > 0 {
                let share = min(left, remaining[index].quantity)
                remaining[index].quantity -= share
                left -= share
                movements.append(StockStatements.NewMovement(
                    kind: .allocate, orderId: orderId, lineNumber: remaining[index].lineNumber, reservationId: reservation.id,
                    vendorId: hold.vendorId, productId: hold.productId, quantity: share))
            }
        }
        return movements
    }

    /// Writes the window's reservation changes: new holds for RESERVED orders
    /// (deadline `ttlSeconds` from now, also set as the order's
    /// `reserved_until`), and checkout holds consumed (the order records
    /// which one it used).
    static func write(
        holds: [(reservationId: UUID, orderId: UUID)], consumed: [(reservationId: UUID, orderId: UUID)], ttlSeconds: Int,
        on connection: PostgresConnection
    ) throws {
        if !holds.isEmpty {
            try connection.query(
                """
                WITH d AS (SELECT * FROM unnest($1::uuid[], $2::uuid[]) AS d(id, order_id)),
                inserted AS (
                    INSERT INTO reservations (id, order_id, expires_at)
                    SELECT d.id, d.order_id, now() + make_interval(secs => $3) FROM d
                    RETURNING order_id, expires_at
                )
                UPDATE orders AS o SET reserved_until = i.expires_at FROM inserted i WHERE o.id = i.order_id
                """, [PostgresArray(holds.map(\.reservationId)), PostgresArray(holds.map(\.orderId)), ttlSeconds])
        }
        if !consumed.isEmpty {
            try connection.query(
                """
                WITH d AS (SELECT * FROM unnest($1::uuid[], $2::uuid[]) AS d(id, order_id)),
                consumed AS (
                    UPDATE reservations AS r SET status = 'CONSUMED', order_id = d.order_id, ended_at = now()
                    FROM d WHERE r.id = d.id RETURNING r.id, r.order_id
                )
                UPDATE orders AS o SET reservation_id = c.id FROM consumed c WHERE o.id = c.order_id
                """, [PostgresArray(consumed.map(\.reservationId)), PostgresArray(consumed.map(\.orderId))])
        }
    }
}
