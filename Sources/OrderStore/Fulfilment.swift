import Foundation
import OrderCore
import Postgres
import TextCodecs

/// The warehouse's part of an order's life: what fulfilment-worker sends
/// (an order's lines), the order taken on (CONFIRMED → FULFILLING), a refusal
/// flagged for review, and the carrier scans the warehouse calls back with
/// (SHIPPED → IN_TRANSIT → DELIVERED). Each write is one transaction under
/// the order's row lock, its transitions decided by `OrderLifecycle` and
/// recorded with their events in the outbox, as every transition is.
public enum Fulfilment {
    /// An order as the warehouse request needs it.
    public struct Order: Sendable, Hashable {
        public let state: OrderState
        public let lines: [OrderLine]
    }

    /// The order's state and lines, in line order; nil for an unknown order.
    public static func order(_ orderId: UUID, on connection: PostgresConnection) throws -> Order? {
        guard let status = try connection.query("SELECT status FROM orders WHERE id = $1", [orderId]).first else { return nil }
        let lines = try connection.query(
            "SELECT product_id, quantity FROM order_lines WHERE order_id = $1 ORDER BY line_no", [orderId]
        ).rows.map { OrderLine(productId: try $0.decode(0), quantity: try $0.decode(1)) }
        return Order(state: OrderState(rawValue: try status.decode(0)) ?? .failed, lines: lines)
    }

    /// The warehouse took the order: CONFIRMED → FULFILLING. Answers the
    /// state the order was in; only a CONFIRMED order changes. An order that
    /// moved on meanwhile (a shipment scan came first) stays where it is; one
    /// cancelled while its request was on the way is flagged for review,
    /// because the warehouse may ship goods the order no longer holds.
    @discardableResult
    public static func started(_ orderId: UUID, routing: OutboxRouting, on connection: PostgresConnection) throws -> OrderState? {
        try connection.withTransaction { connection in
            guard let state = try OrderCommands.lockedState(of: orderId, on: connection) else { return nil }
            switch OrderLifecycle.decide(state, .fulfilmentStarted) {
            case .transition(let transition):
                try OrderHistory.record(transition, orderId: orderId, actor: .system, on: connection)
                try routing.enqueue(orders: [orderId], movements: [], on: connection)
            case .unchanged, .refused:
                if state == .cancelled {
                    try OrderReview.flag(orderId, reason: "the warehouse accepted the order after it was cancelled: stop the shipment", on: connection)
                }
            }
            return state
        }
    }

    /// The warehouse refused the order for good (a 4xx): flags it for review with `reason`.
    public static func refused(_ orderId: UUID, reason: String, on connection: PostgresConnection) throws {
        try OrderReview.flag(orderId, reason: reason, on: connection)
    }

    // MARK: Shipment scans

    /// A carrier scan of one parcel, as the warehouse reports it.
    public struct Scan: Sendable, Hashable {
        public let orderId: UUID
        public let trackingNumber: String
        public let carrier: String?
        /// SHIPPED, IN_TRANSIT or DELIVERED.
        public let status: OrderState
        public let occurredAt: Date?

        public init(orderId: UUID, trackingNumber: String, carrier: String?, status: OrderState, occurredAt: Date?) {
            precondition(Self.statuses.contains(status), "a scan is SHIPPED, IN_TRANSIT or DELIVERED")
            self.orderId = orderId
            self.trackingNumber = trackingNumber
            self.carrier = carrier
            self.status = status
            self.occurredAt = occurredAt
        }

        public static let statuses: [OrderState] = [.shipped, .inTransit, .delivered]
    }

    /// What a scan did.
    public enum ScanResult: Sendable, Hashable {
        /// The order moved through these states (a scan implies its predecessors).
        case advanced([OrderState], parcel: ParcelChange)
        /// The order is at or past the scan already.
        case unchanged(OrderState, parcel: ParcelChange)
        /// The order was cancelled: nothing applied, the order flagged for review.
        case cancelled
    }

    public enum ParcelChange: String, Sendable, Hashable {
        /// The parcel's row now says what the scan said.
        case recorded
        /// The parcel was further already (a late, older scan): its row is kept.
        case ignored
    }

    /// Records the parcel's scan (never backwards) and moves the order up to
    /// the scan's state, through SHIPPED first when it has not shipped yet (a
    /// DELIVERED scan of a SHIPPED order goes straight to DELIVERED, as the
    /// lifecycle allows). Throws `CommandRefusal`
    /// for an unknown order, and for one the lifecycle does not let ship (not yet confirmed).
    public static func record(_ scan: Scan, routing: OutboxRouting, on connection: PostgresConnection) throws -> ScanResult {
        try connection.withTransaction { connection in
            guard var state = try OrderCommands.lockedState(of: scan.orderId, on: connection) else {
                throw CommandRefusal(.notFound, code: "order-not-found", message: "no order \(UUIDText.string(scan.orderId))")
            }
            if state == .cancelled {
                try OrderReview.flag(
                    scan.orderId,
                    reason: "the warehouse reported \(scan.trackingNumber) \(scan.status.rawValue) for a cancelled order", on: connection)
                return .cancelled
            }
            let parcel = try recordParcel(scan, on: connection)
            var passed: [OrderState] = []
            for event in steps(from: state, to: scan.status) {
                switch OrderLifecycle.decide(state, event) {
                case .transition(let transition):
                    try OrderHistory.record(transition, orderId: scan.orderId, actor: .system, on: connection)
                    state = transition.to
                    passed.append(state)
                case .unchanged: continue
                case .refused(let refusal): throw CommandRefusal(refusal)
                }
            }
            guard !passed.isEmpty else { return .unchanged(state, parcel: parcel) }
            try routing.enqueue(orders: [scan.orderId], movements: [], on: connection)
            return .advanced(passed, parcel: parcel)
        }
    }

    /// The events that take an order in `state` to a scan's `status`: none
    /// when it is there or further; SHIPPED first when it has not shipped.
    static func steps(from state: OrderState, to status: OrderState) -> [OrderEvent] {
        let reached = progress(of: state)
        guard progress(of: status) > reached else { return [] }
        var events: [OrderEvent] = []
        if reached < 1 { events.append(.shipped) }
        if status == .inTransit { events.append(.inTransit) }
        if status == .delivered { events.append(.delivered) }
        return events
    }

    /// How far along shipping a state is: 0 before SHIPPED, 1 SHIPPED, 2 IN_TRANSIT,
    /// 3 DELIVERED, 4 RETURNED (past every scan).
    private static func progress(of state: OrderState) -> Int {
        switch state {
        case .shipped: 1
        case .inTransit: 2
        case .delivered: 3
        case .returned: 4
        default: 0
        }
    }

    /// Upserts the parcel's row unless it holds a later scan already.
    private static func recordParcel(_ scan: Scan, on connection: PostgresConnection) throws -> ParcelChange {
        let current = try connection.query(
            "SELECT status FROM shipments WHERE order_id = $1 AND tracking_number = $2", [scan.orderId, scan.trackingNumber]
        ).first.map { OrderState(rawValue: try $0.decode(0)) ?? .shipped }
        if let current, progress(of: current) > progress(of: scan.status) { return .ignored }
        try connection.query(
            """
            INSERT INTO shipments (order_id, tracking_number, carrier, status, updated_at)
            VALUES ($1, $2, $3, $4, coalesce($5, now()))
            ON CONFLICT (order_id, tracking_number) DO UPDATE
                SET carrier = coalesce(EXCLUDED.carrier, shipments.carrier), status = EXCLUDED.status, updated_at = EXCLUDED.updated_at
            """, [scan.orderId, scan.trackingNumber, scan.carrier, scan.status.rawValue, scan.occurredAt])
        return .recorded
    }

    /// The order's parcels, oldest scan first.
    public static func shipments(of orderId: UUID, on connection: PostgresConnection) throws -> [OrderDetails.Shipment] {
        try connection.query(
            "SELECT tracking_number, carrier, status, updated_at FROM shipments WHERE order_id = $1 ORDER BY updated_at, tracking_number",
            [orderId]
        ).rows.map {
            OrderDetails.Shipment(
                trackingNumber: try $0.decode(0), carrier: try $0.decode(1, as: String?.self), status: try $0.decode(2), updatedAt: try $0.decode(3))
        }
    }
}
