import Foundation
import OrderCore
import Postgres
import ServiceSupport

/// What applying an order did.
public struct OrderApplication: Sendable, Hashable {
    public let orderId: UUID
    public let status: OrderState
    public let reason: String?
    /// The order's vendor-bound allocations: one vendor_sync message each
    /// (re-sent for a duplicate: vendor-sync applies each movement once).
    public let allocations: [VendorMovement]
    /// The `order_events` messages to publish once the window committed: the
    /// new transition of a new order, the whole history of one that had a row
    /// before (so a later event never overtakes an earlier one a crash held back).
    public let events: [OutboundMessage]
    /// The authorize command of an order whose stock was held for its
    /// payment, to publish with the events (re-sent for a duplicate while the
    /// order is still RESERVED with its payment PENDING: same idempotency key).
    public let payment: PaymentCommand?
    /// True when the order had already been applied (redelivery, duplicate publish, replay).
    public let duplicate: Bool
}

/// Applies a window of orders in one transaction, in two steps:
///
/// 1. Record the window's new orders with their lines, taking no stock lock:
///    each at the state the worker expects (CONFIRMED, or RESERVED for one
///    that pays first) with its first history row (`OrderHistory.insertExpected`).
///    `ON CONFLICT (id) DO NOTHING` both inserts and finds the orders that have
///    a row already (a redelivery, a FAILED order replayed, a cancel that
///    reached a QUEUED order first), in one statement.
/// 2. Lock the checkout holds the window names, then the stock rows of every
///    product in the window once (FOR UPDATE, product then vendor order),
///    decide each order in delivery order against the stock the earlier ones
///    left (so one that would overshoot is REJECTED exactly as it would be
///    alone; one that pays is first priced from its products, and REJECTED
///    when it cannot be: `Payments.price`), offer that to
///    `OrderLifecycle.decide`, then write the stock changes, the movements,
///    the reservations, the payments of the orders held for one (their
///    authorize commands go out with the events) and the orders decided
///    otherwise than expected (`OrderHistory.correct`) with one statement each.
///
/// Concurrent windows serialize on the stock rows, and row locks last until
/// the commit, so the row writes of step 1 come before taking them: one
/// window writes its orders while another holds the locks. One commit — one
/// fsync — for the whole window, so nobody sees an expected state that step 2
/// corrected.
///
/// The order id is the primary key, so an order applies once: a copy of one
/// of the orders that another window committed first is found by the insert
/// (it waits for that commit) and answered as a duplicate. Any error (a
/// deadlock, an idempotency key another order holds, a lost connection) rolls
/// the whole window back; the caller then applies the orders one by one
/// (`WindowFallback`), each as a window of one, so no order suffers for another.
public enum OrderApplier {
    /// What the worker's configuration decides about a window.
    public struct Settings: Sendable, Hashable {
        /// The topic exchange the order and inventory events go to (`Topology.orderEvents`).
        public var eventsExchange: String
        public var stockLevels: StockLevelPolicy
        /// How long an order that asked for a payment holds its stock (`RESERVATION_TTL_SECONDS`).
        public var reservationTTLSeconds: Int

        public init(eventsExchange: String, stockLevels: StockLevelPolicy = StockLevelPolicy(threshold: 5), reservationTTLSeconds: Int = 900) {
            self.eventsExchange = eventsExchange
            self.stockLevels = stockLevels
            self.reservationTTLSeconds = reservationTTLSeconds
        }
    }

    public static func apply(_ orders: [OrderPlaced], settings: Settings, on connection: PostgresConnection) throws -> [OrderApplication] {
        try connection.withTransaction { connection in try applyInTransaction(orders, settings, connection) }
    }

    /// One order: the window of one. An order whose idempotency key another
    /// order holds fails with 23505 on `orders`; it is answered from the
    /// committed row when that row is its own.
    public static func apply(_ order: OrderPlaced, settings: Settings, on connection: PostgresConnection) throws -> OrderApplication {
        do {
            return try apply([order], settings: settings, on: connection)[0]
        } catch let error as PostgresError where error.code == .uniqueViolation && error.tableName == "orders" {
            guard let existing = try existing(order.orderId, settings: settings, on: connection) else { throw error }
            return existing
        }
    }

    /// Thrown (and answered by the one-by-one fallback) when an order is neither
    /// new nor found: its row went while this window looked at it.
    struct VanishedOrder: Error, CustomStringConvertible {
        var description: String { "the order's row went while its window was applied" }
    }

    /// Thrown when the state machine refuses what the worker found for an
    /// order it was entitled to decide: a defect, never a business answer.
    struct RefusedByLifecycle: Error, CustomStringConvertible {
        let description: String
    }

    /// An order that had a row before this window.
    private struct StoredOrder {
        let state: OrderState
        let reason: String?
        let hasLines: Bool
        /// A payment was asked for when its stock was held: the order is never decided again.
        let hasPayment: Bool
    }

    private static func applyInTransaction(_ orders: [OrderPlaced], _ settings: Settings, _ connection: PostgresConnection) throws -> [OrderApplication] {
        // First copy of each order id, inserted in id order so that two windows
        // sharing orders take their keys in the same order.
        var seen = Set<UUID>()
        let firsts = orders.filter { seen.insert($0.orderId).inserted }.sorted { $0.orderId < $1.orderId }

        // Step 1, before the stock locks: the new orders' rows at their expected
        // state with their history, and their lines.
        let expected = try firsts.map { order in (order, try transition(.queued, expectedEvent(of: order))) }
        var recorded = try OrderHistory.insertExpected(expected, actor: .system, on: connection)
        let inserted = Set(recorded.map(\.orderId))
        let newOrders = firsts.filter { inserted.contains($0.orderId) }
        if !newOrders.isEmpty { try StockStatements.insertLines(newOrders, on: connection) }

        // Already there: a duplicate, a cancelled QUEUED order, or a FAILED order
        // replayed from the DLQ, which the lifecycle lets the worker decide again.
        var stored: [UUID: StoredOrder] = [:]
        let others = firsts.filter { !inserted.contains($0.orderId) }
        if !others.isEmpty {
            for row in try connection.query(
                """
                SELECT o.id, o.status, o.reason, EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.id),
                    EXISTS (SELECT 1 FROM payments p WHERE p.order_id = o.id)
                FROM orders o WHERE o.id = ANY($1::uuid[]) ORDER BY o.id FOR UPDATE
                """, [PostgresArray(others.map(\.orderId))]
            ).rows {
                stored[try row.decode(0)] = StoredOrder(
                    state: OrderState(rawValue: try row.decode(1, as: String.self)) ?? .failed, reason: try row.decode(2, as: String?.self),
                    hasLines: try row.decode(3), hasPayment: try row.decode(4))
            }
            guard stored.count == others.count else { throw VanishedOrder() }
        }
        // Decided here: the new orders and the stored ones the lifecycle lets the
        // worker decide (FAILED); every other stored order is a duplicate. A
        // FAILED order with a payment was declined: deciding it again would
        // hold its stock and charge the customer again.
        let redecided = Set(stored.filter { $0.value.state.workerMayDecide && !$0.value.hasPayment }.keys)
        let toDecide = firsts.filter { inserted.contains($0.orderId) || redecided.contains($0.orderId) }
        // A replayed FAILED order's lines are written again; a cancel that reached
        // a QUEUED order first left a row without lines.
        let rewritten = others.filter { redecided.contains($0.orderId) || !(stored[$0.orderId]?.hasLines ?? true) }
        if !redecided.isEmpty {
            try connection.query("DELETE FROM order_lines WHERE order_id = ANY($1::uuid[])", [PostgresArray(Array(redecided))])
        }
        if !rewritten.isEmpty { try StockStatements.insertLines(rewritten, on: connection) }

        // Step 2: checkout holds, then stock rows (the lock order).
        var reservations = try HoldConsumption.lock(toDecide.compactMap(\.reservationId), on: connection)
        var stock: [String: [VendorStock]] = [:]
        let takingStock = toDecide.filter { $0.reservationId == nil }
        if !takingStock.isEmpty {
            // What is left of each product, by product: each order sees only its own
            // products' rows, so a window costs O(orders), not O(orders × products).
            for entry in try StockStatements.lock(Array(Set(takingStock.flatMap { $0.lines.map(\.productId) })).sorted(), on: connection) {
                stock[entry.productId, default: []].append(entry)
            }
        }

        // Orders that pay are priced before their stock is looked at: one that cannot be paid for holds nothing.
        let paying = toDecide.filter(\.paysFirst)
        let prices = try Payments.prices(of: Array(Set(paying.flatMap { $0.lines.map(\.productId) })), on: connection)
        var authorizations: [(order: OrderPlaced, amount: Money)] = []

        var transitions: [(orderId: UUID, transition: OrderTransition)] = []
        var movements: [StockStatements.NewMovement] = []
        var holds: [(reservationId: UUID, orderId: UUID)] = []
        var consumed: [(reservationId: UUID, orderId: UUID)] = []
        var decided: [UUID: OrderApplication] = [:]
        let toDecideIds = Set(toDecide.map(\.orderId))
        for order in orders {
            guard toDecideIds.contains(order.orderId), decided[order.orderId] == nil else { continue }
            let state = stored[order.orderId]?.state ?? .queued
            let pricing = order.paysFirst ? Payments.price(order.lines, prices: prices) : nil
            let found: (event: OrderEvent, movements: [StockStatements.NewMovement], hold: UUID?, consumed: UUID?)
            if case .refused(let reason) = pricing {
                found = (.stockUnavailable(reason: reason), [], nil, nil)
            } else {
                found = finding(for: order, reservations: &reservations, stock: &stock)
            }
            let transition = try Self.transition(state, found.event)
            if transition.effects.contains(.authorizePayment), case .amount(let amount) = pricing { authorizations.append((order, amount)) }
            transitions.append((order.orderId, transition))
            movements += found.movements
            if let hold = found.hold { holds.append((hold, order.orderId)) }
            if let reservationId = found.consumed { consumed.append((reservationId, order.orderId)) }
            decided[order.orderId] = OrderApplication(
                orderId: order.orderId, status: transition.to, reason: transition.event.reason,
                allocations: found.movements.compactMap(\.vendorMovement), events: [], payment: nil, duplicate: false)
        }

        // Under the locks: the new orders decided otherwise than expected (REJECTED), and the replayed ones.
        let expectedOf = Dictionary(uniqueKeysWithValues: expected.map { ($0.0.orderId, $0.1) })
        let decidedOf = Dictionary(uniqueKeysWithValues: transitions.map { ($0.orderId, $0.transition) })
        let corrections = recorded.filter { decidedOf[$0.orderId] != expectedOf[$0.orderId] }.map { ($0, decidedOf[$0.orderId]!) }
        if !corrections.isEmpty {
            let corrected = Dictionary(uniqueKeysWithValues: try OrderHistory.correct(corrections, on: connection).map { ($0.orderId, $0) })
            recorded = recorded.map { corrected[$0.orderId] ?? $0 }
        }
        recorded += try OrderHistory.record(transitions.filter { redecided.contains($0.orderId) }, actor: .system, on: connection)
        if !holds.isEmpty || !consumed.isEmpty {
            try HoldConsumption.write(holds: holds, consumed: consumed, ttlSeconds: settings.reservationTTLSeconds, on: connection)
        }
        if !movements.isEmpty {
            try StockStatements.applyToStock(movements, on: connection)
            try StockStatements.insertMovements(movements, on: connection)
            // A consumed checkout hold (release + allocate) leaves its product's stock as it was.
            var net: [String: Int] = [:]
            for movement in movements { net[movement.productId, default: 0] += movement.stockDelta }
            let changed = net.filter { $0.value != 0 }.keys
            try InventoryLevels.update(changed, policy: settings.stockLevels, exchange: settings.eventsExchange, on: connection)
        }
        var payments = try Payments.authorize(authorizations, prices: prices, on: connection)

        // Events: a new order's one transition; the whole history of one that had a row.
        let linesOf = Dictionary(toDecide.map { ($0.orderId, $0.lines.map { OrderEventMessage.Line(productId: $0.productId, quantity: $0.quantity) }) }) { $1 }
        var events: [UUID: [OutboundMessage]] = [:]
        for transition in recorded where inserted.contains(transition.orderId) {
            events[transition.orderId] = [OrderEventMessage.message(transition, lines: linesOf[transition.orderId] ?? [], exchange: settings.eventsExchange)]
        }
        let storedIds = Array(stored.keys)
        events.merge(try OrderHistory.eventMessages(of: storedIds, exchange: settings.eventsExchange, on: connection)) { $1 }
        let duplicates = storedIds.filter { !redecided.contains($0) }
        let previousAllocations = try allocations(of: duplicates, on: connection)
        payments.merge(try Payments.pendingAuthorizations(of: duplicates, on: connection)) { $1 }
        for orderId in duplicates {
            let row = stored[orderId]!
            decided[orderId] = OrderApplication(
                orderId: orderId, status: row.state, reason: row.reason, allocations: previousAllocations[orderId] ?? [], events: [], payment: nil,
                duplicate: true)
        }
        // Every copy of an order after the first is a duplicate of it.
        var firstSeen = Set<UUID>()
        return try orders.map { order in
            guard let application = decided[order.orderId] else { throw VanishedOrder() }
            let first = firstSeen.insert(order.orderId).inserted
            return OrderApplication(
                orderId: application.orderId, status: application.status, reason: application.reason, allocations: application.allocations,
                events: events[order.orderId] ?? [], payment: payments[order.orderId], duplicate: application.duplicate || !first)
        }
    }

    /// What the worker expects to find for a new order before it looks at the
    /// stock: a hold for an order that pays first, otherwise an allocation.
    private static func expectedEvent(of order: OrderPlaced) -> OrderEvent {
        order.paysFirst ? .stockReserved : .stockAllocated
    }

    /// The lifecycle's transition for what the worker found.
    private static func transition(_ state: OrderState, _ event: OrderEvent) throws -> OrderTransition {
        switch OrderLifecycle.decide(state, event) {
        case .transition(let transition): return transition
        case .refused(let refusal): throw RefusedByLifecycle(description: "the order lifecycle refused the worker's decision: \(refusal)")
        case .unchanged: throw RefusedByLifecycle(description: "the order lifecycle found the order already \(state.rawValue)")
        }
    }

    /// What the worker finds for an order: the event to offer the lifecycle and
    /// the movements it implies. `reservations` and `stock` are what the
    /// window's earlier orders left.
    private static func finding(
        for order: OrderPlaced, reservations: inout [UUID: HeldReservation], stock: inout [String: [VendorStock]]
    ) -> (event: OrderEvent, movements: [StockStatements.NewMovement], hold: UUID?, consumed: UUID?) {
        if let reservationId = order.reservationId {
            if let refusal = HoldConsumption.refusal(reservations[reservationId], for: order) {
                return (.stockUnavailable(reason: refusal), [], nil, nil)
            }
            let movements = HoldConsumption.movements(consuming: reservations[reservationId]!, orderId: order.orderId, lines: order.lines)
            reservations[reservationId]?.status = "CONSUMED"
            return (.stockAllocated, movements, nil, reservationId)
        }
        switch AllocationPolicy.decide(lines: order.lines, stock: Set(order.lines.map(\.productId)).flatMap { stock[$0] ?? [] }) {
        case .reject(let reason):
            return (.stockUnavailable(reason: reason), [], nil, nil)
        case .allocate(let plan):
            for taken in plan {
                // (product, vendor) is vendor_stock's key: one row to replace.
                guard let index = stock[taken.productId]?.firstIndex(where: { $0.vendorId == taken.vendorId }) else { continue }
                let row = stock[taken.productId]![index]
                stock[taken.productId]![index] = VendorStock(vendorId: row.vendorId, productId: row.productId, stock: row.stock - taken.quantity)
            }
            guard order.payment != nil else {
                return (.stockAllocated, StockStatements.movements(plan, kind: .allocate, orderId: order.orderId), nil, nil)
            }
            // Paid for before it is confirmed: the stock is held until the reservation's deadline.
            let reservationId = RandomUUID.make()
            return (.stockReserved, StockStatements.movements(plan, kind: .hold, orderId: order.orderId, reservationId: reservationId), reservationId, nil)
        }
    }

    /// The allocate movements of orders applied earlier, in line and vendor
    /// order, to publish again; not one its vendor refused (CONFLICTED): that
    /// line's units were taken from another vendor since.
    private static func allocations(of orderIds: [UUID], on connection: PostgresConnection) throws -> [UUID: [VendorMovement]] {
        guard !orderIds.isEmpty else { return [:] }
        var allocations: [UUID: [VendorMovement]] = [:]
        for row in try connection.query(
            """
            SELECT order_id, id, vendor_id, product_id, quantity, kind FROM stock_movements
            WHERE order_id = ANY($1::uuid[]) AND kind = 'allocate' AND status <> 'CONFLICTED' ORDER BY order_id, line_no, vendor_id
            """, [PostgresArray(orderIds)]
        ).rows {
            let orderId: UUID = try row.decode(0)
            allocations[orderId, default: []].append(try StockStatements.vendorMovement(row, orderId: orderId, from: 1))
        }
        return allocations
    }

    /// Records an order whose retries were spent as FAILED (QUEUED → FAILED,
    /// unless it was applied or cancelled meanwhile). Its event goes through
    /// the outbox: the message that failed is already in the DLQ, so no
    /// publish-then-ack is left to carry it.
    public static func markFailed(_ order: OrderPlaced, reason: String, settings: Settings, on connection: PostgresConnection) throws {
        try connection.withTransaction { connection in
            guard try OrderHistory.insertQueued(order, on: connection) else { return }
            try StockStatements.insertLines([order], on: connection)
            guard case .transition(let transition) = OrderLifecycle.decide(.queued, .processingFailed(reason: reason)) else { return }
            try OrderHistory.record(transition, orderId: order.orderId, actor: .system, on: connection)
            try Outbox.enqueue(OrderHistory.eventMessages(of: order.orderId, exchange: settings.eventsExchange, on: connection), on: connection)
        }
    }

    /// The stored outcome of an order, or nil when it was never applied.
    public static func existing(_ orderId: UUID, settings: Settings, on connection: PostgresConnection) throws -> OrderApplication? {
        guard let row = try connection.query("SELECT status, reason FROM orders WHERE id = $1", [orderId]).first,
            let status = OrderState(rawValue: try row.decode(0, as: String.self))
        else { return nil }
        return OrderApplication(
            orderId: orderId, status: status, reason: try row.decode(1, as: String?.self),
            allocations: try allocations(of: [orderId], on: connection)[orderId] ?? [],
            events: try OrderHistory.eventMessages(of: orderId, exchange: settings.eventsExchange, on: connection),
            payment: try Payments.pendingAuthorizations(of: [orderId], on: connection)[orderId], duplicate: true)
    }
}

extension OrderState {
    /// The worker takes (or holds) stock for an order in this state: QUEUED,
    /// and FAILED (an order whose retries were spent, replayed from the DLQ).
    var workerMayDecide: Bool { self == .queued || self == .failed }
}

extension OrderPlaced {
    /// Its stock is held while it is paid for (a payment, and no checkout hold to consume).
    fileprivate var paysFirst: Bool { payment != nil && reservationId == nil }
}
