import Foundation
import OrderCore
import Postgres
import TextCodecs

/// The lifecycle commands on one order (`POST /orders/{id}/cancel`,
/// `/returns`), each one transaction: the order's row is locked, the state
/// machine decides, the effects are carried out (stock movements applied,
/// holds ended), the transition is recorded (OrderHistory) and what it
/// implies is written to the outbox (the order's events, vendor restocks,
/// inventory events, payment voids and refunds). Lock order: orders →
/// reservations → vendor_stock; the order's `payments` row only ever under
/// its order's row lock.
public enum OrderCommands {
    /// Cancels the order. An order with no row yet is still QUEUED (no
    /// worker has decided it): when `queuedIfAbsent` (the caller recognised
    /// the id as one the API issued), its row is created QUEUED and
    /// cancelled, so the worker later finds it cancelled and takes nothing.
    /// A second cancel changes nothing. Answers the order as it is then.
    /// `channel`: the channel's reference of the order it cancels, kept on a
    /// row the cancel creates (the worker finds the row and does not write it).
    public static func cancel(
        _ orderId: UUID, reason: String?, actor: OrderActor, queuedIfAbsent: Bool, channel: ChannelOrderReference? = nil,
        routing: OutboxRouting, on connection: PostgresConnection
    ) throws -> OrderDetails {
        try connection.withTransaction { connection in
            var state = try lockedState(of: orderId, on: connection)
            if state == nil, queuedIfAbsent {
                // A worker inserting the order at the same moment wins or waits for this row: either way one decision.
                try connection.query(
                    """
                    INSERT INTO orders (id, status, channel, channel_shop, channel_order_id, channel_order_name)
                    VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING
                    """,
                    [orderId, OrderState.queued.rawValue, channel?.channel, channel?.shop, channel?.orderId, channel?.orderName])
                state = try lockedState(of: orderId, on: connection)
            }
            guard let state else { throw notFound(orderId) }
            switch OrderLifecycle.decide(state, .cancel(reason: reason)) {
            case .unchanged: break
            case .refused(let refusal): throw CommandRefusal(refusal)
            case .transition(let transition):
                var movements: [StockStatements.NewMovement] = []
                if transition.effects.contains(.releaseHold) {
                    movements += try Reservations.endOrderHolds([orderId], as: "RELEASED", on: connection)
                }
                if transition.effects.contains(.restockAll) {
                    let restocks = try outstanding(of: orderId, on: connection).map {
                        StockStatements.NewMovement(
                            kind: .restock, orderId: orderId, lineNumber: $0.lineNumber, vendorId: $0.vendorId, productId: $0.productId,
                            quantity: $0.quantity)
                    }
                    try StockStatements.commit(restocks, on: connection)
                    movements += restocks
                }
                let recorded = try OrderHistory.record(transition, orderId: orderId, actor: actor, on: connection)
                // A void of the authorization, or a refund of what was captured.
                let payments = try Payments.commands(for: transition.effects, of: recorded, on: connection)
                try routing.enqueue(orders: [orderId], movements: movements, payments: payments, on: connection)
            }
            return try OrderQueries.order(orderId, on: connection)!
        }
    }

    /// Takes back `items` of a shipped or delivered order: each product's
    /// units are taken from its lines in line order (never more than a line
    /// bought and has not returned yet), and restocked at the vendors they
    /// came from, in vendor order; the lines record how many came back and
    /// the order becomes RETURNED (partially, when fewer than all).
    /// With an `idempotencyKey`, a retry of an accepted return answers the
    /// order as it is and restocks nothing more; the key with other items is
    /// refused (`idempotency-key-reused`).
    public static func returnItems(
        _ orderId: UUID, items: [OrderLine], idempotencyKey: String? = nil, actor: OrderActor, routing: OutboxRouting,
        on connection: PostgresConnection
    ) throws -> OrderDetails {
        try connection.withTransaction { connection in
            guard let state = try lockedState(of: orderId, on: connection) else { throw notFound(orderId) }
            let requested = returnedUnits(items)
            if let idempotencyKey {
                // The order's row lock serialises retries of one key: the second reads the first's row.
                if let earlier = try connection.query(
                    "SELECT items FROM order_return_requests WHERE order_id = $1 AND idempotency_key = $2", [orderId, idempotencyKey]
                ).first {
                    guard try earlier.decode(0, as: String.self) == requested else {
                        throw CommandRefusal(
                            .unprocessable, code: "idempotency-key-reused",
                            message: "the Idempotency-Key was first sent with other items (\(try earlier.decode(0, as: String.self)))")
                    }
                    return try OrderQueries.order(orderId, on: connection)!
                }
            }
            let transition: OrderTransition
            switch OrderLifecycle.decide(state, .returnReceived) {
            case .transition(let decided): transition = decided
            case .refused(let refusal): throw CommandRefusal(refusal)
            case .unchanged: return try OrderQueries.order(orderId, on: connection)!
            }
            let lines = try connection.query(
                "SELECT line_no, product_id, quantity, returned_quantity FROM order_lines WHERE order_id = $1 ORDER BY line_no FOR UPDATE",
                [orderId]
            ).rows.map { (number: try $0.decode(0, as: Int.self), productId: try $0.decode(1, as: String.self), open: try $0.decode(2, as: Int.self) - $0.decode(3, as: Int.self)) }

            var remaining: [String: Int] = [:]
            for item in items { remaining[item.productId, default: 0] += item.quantity }
            for (productId, wanted) in remaining.sorted(by: { $0.key < $1.key }) {
                let open = lines.filter { $0.productId == productId }.reduce(0) { $0 + $1.open }
                guard wanted <= open else {
                    throw CommandRefusal(
                        .unprocessable, code: "return-exceeds-purchase",
                        message: "\(productId): \(wanted) returned, but the order has \(open) bought and not yet returned")
                }
            }

            var outstanding = try outstanding(of: orderId, on: connection)
            var returned: [(line: Int, quantity: Int)] = []
            var restocks: [StockStatements.NewMovement] = []
            for line in lines {
                let take = min(remaining[line.productId] ?? 0, line.open)
                guard take > 0 else { continue }
                remaining[line.productId]! -= take
                returned.append((line.number, take))
                var left = take
                for index in outstanding.indices where left > 0 && outstanding[index].lineNumber == line.number {
                    let units = min(left, outstanding[index].quantity)
                    guard units > 0 else { continue }
                    left -= units
                    outstanding[index].quantity -= units
                    restocks.append(StockStatements.NewMovement(
                        kind: .restock, orderId: orderId, lineNumber: line.number, vendorId: outstanding[index].vendorId,
                        productId: line.productId, quantity: units))
                }
                // No vendor holds these units for the order (its allocation was refused
                // and nobody took it over: the order is flagged for review), so there is
                // nowhere to restock them; nothing is written, an operator decides.
                guard left == 0 else {
                    throw CommandRefusal(
                        .conflict, code: "return-not-restockable",
                        message: "line \(line.number): \(left) of \(line.productId) were never taken from a vendor; see the order's review reason")
                }
            }
            try connection.query(
                """
                UPDATE order_lines AS l SET returned_quantity = l.returned_quantity + d.quantity
                FROM unnest($2::int[], $3::int[]) AS d(line_no, quantity)
                WHERE l.order_id = $1 AND l.line_no = d.line_no
                """, [orderId, PostgresArray(returned.map(\.line)), PostgresArray(returned.map(\.quantity))])
            try StockStatements.commit(restocks, on: connection)
            let recorded = try OrderHistory.record(transition, orderId: orderId, actor: actor, on: connection)
            // The returned units at the price they were sold at (nothing for an order that paid no gateway).
            let refund = try Payments.returnedAmount(of: orderId, returned: returned, on: connection)
            let payments = try Payments.commands(for: transition.effects, of: recorded, refundMinor: refund, on: connection)
            try routing.enqueue(orders: [orderId], movements: restocks, payments: payments, on: connection)
            if let idempotencyKey {
                try connection.query(
                    "INSERT INTO order_return_requests (order_id, idempotency_key, items) VALUES ($1, $2, $3)", [orderId, idempotencyKey, requested])
            }
            return try OrderQueries.order(orderId, on: connection)!
        }
    }

    /// The returned units per product, `p1=2,p2=1` sorted by product: what a
    /// retried return must ask for again.
    static func returnedUnits(_ items: [OrderLine]) -> String {
        var units: [String: Int] = [:]
        for item in items { units[item.productId, default: 0] += item.quantity }
        return units.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }

    /// The units a vendor still has out for each line of the order: what it
    /// was told to allocate (a refused allocation is not counted) minus what
    /// it was told to restock, in (line, vendor) order.
    private static func outstanding(of orderId: UUID, on connection: PostgresConnection) throws
        -> [(lineNumber: Int, vendorId: String, productId: String, quantity: Int)]
    {
        try connection.query(
            """
            SELECT line_no, vendor_id, product_id,
                (coalesce(sum(quantity) FILTER (WHERE kind = 'allocate'), 0)
                 - coalesce(sum(quantity) FILTER (WHERE kind = 'restock'), 0))::int AS outstanding
            FROM stock_movements
            WHERE order_id = $1 AND kind IN ('allocate', 'restock') AND status <> 'CONFLICTED'
            GROUP BY line_no, vendor_id, product_id
            HAVING coalesce(sum(quantity) FILTER (WHERE kind = 'allocate'), 0)
                 > coalesce(sum(quantity) FILTER (WHERE kind = 'restock'), 0)
            ORDER BY line_no, vendor_id
            """, [orderId]
        ).rows.map { (try $0.decode(0), try $0.decode(1), try $0.decode(2), try $0.decode(3)) }
    }

    /// The order's state, its row locked until the transaction ends; nil for an unknown order.
    static func lockedState(of orderId: UUID, on connection: PostgresConnection) throws -> OrderState? {
        try connection.query("SELECT status FROM orders WHERE id = $1 FOR UPDATE", [orderId]).first.map {
            OrderState(rawValue: try $0.decode(0)) ?? .failed
        }
    }

    private static func notFound(_ orderId: UUID) -> CommandRefusal {
        CommandRefusal(.notFound, code: "order-not-found", message: "no order \(UUIDText.string(orderId))")
    }
}
