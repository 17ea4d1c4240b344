import Foundation
import OrderCore
import Postgres

/// What applying an order did.
public struct OrderApplication: Sendable, Hashable {
    public let orderId: UUID
    public let status: OrderState
    public let reason: String?
    /// For a CONFIRMED order, its allocations: one vendor_sync message each.
    public let allocations: [VendorMovement]
    /// True when the order had already been applied (redelivery, duplicate publish, replay).
    public let duplicate: Bool
}

/// Applies a window of orders in one transaction, in two steps:
///
/// 1. Record the window's new orders and their lines (provisionally CONFIRMED),
///    taking no stock lock. `ON CONFLICT (id) DO NOTHING` both inserts and
///    finds the orders already applied (redelivery), in one statement.
/// 2. Lock the stock rows of every product in the window once (FOR UPDATE,
///    product then vendor order), decide each order in delivery order against
///    the stock the earlier ones left (so one that would overshoot is REJECTED
///    exactly as it would be alone), then write the decrements, the
///    allocations and the rejections with one statement each.
///
/// Concurrent windows serialize on the stock rows, so only step 2 is done
/// while holding them: the lines are written before the lock, not under it.
/// One commit — one fsync — for the whole window.
///
/// The order id is the primary key, so an order applies once: a copy of one
/// of the orders that another window committed first is found by the insert
/// (it waits for that commit) and answered as a duplicate. Any error (a
/// deadlock, an idempotency key another order holds, a lost connection) rolls
/// the whole window back; the caller then applies the orders one by one
/// (`WindowFallback`), each as a window of one, so no order suffers for another.
public enum OrderApplier {
    public static func apply(_ orders: [OrderPlaced], on connection: PostgresConnection) throws -> [OrderApplication] {
        try connection.withTransaction { connection in try applyInTransaction(orders, connection) }
    }

    /// One order: the window of one. An order whose idempotency key another
    /// order holds fails with 23505 on `orders`; it is answered from the
    /// committed row when that row is its own.
    public static func apply(_ order: OrderPlaced, on connection: PostgresConnection) throws -> OrderApplication {
        do {
            return try apply([order], on: connection)[0]
        } catch let error as PostgresError where error.code == .uniqueViolation && error.tableName == "orders" {
            guard let existing = try existing(order.orderId, on: connection) else { throw error }
            return existing
        }
    }

    /// Thrown (and answered by the one-by-one fallback) when an order is neither
    /// new nor found: its row went while this window looked at it.
    struct VanishedOrder: Error, CustomStringConvertible {
        var description: String { "the order's row went while its window was applied" }
    }

    private static func applyInTransaction(_ orders: [OrderPlaced], _ connection: PostgresConnection) throws -> [OrderApplication] {
        // First copy of each order id, inserted in id order so that two windows
        // sharing orders take their keys in the same order.
        var seen = Set<UUID>()
        let firsts = orders.filter { seen.insert($0.orderId).inserted }.sorted { $0.orderId < $1.orderId }
        var fresh = Set(try insertOrders(firsts, connection))

        // Already there: a duplicate, or a FAILED order replayed from the DLQ, which is applied now.
        let others = firsts.filter { !fresh.contains($0.orderId) }
        var done: [UUID: (status: OrderState, reason: String?)] = [:]
        var previousAllocations: [UUID: [VendorMovement]] = [:]
        if !others.isEmpty {
            var failed: [OrderPlaced] = []
            let rows = try Dictionary(uniqueKeysWithValues: connection.query(
                "SELECT id, status, reason FROM orders WHERE id = ANY($1::uuid[]) FOR UPDATE", [PostgresArray(others.map(\.orderId))]
            ).rows.map { row in
                (try row.decode(0, as: UUID.self), (status: OrderState(rawValue: try row.decode(1, as: String.self)) ?? .failed, reason: try row.decode(2, as: String?.self)))
            })
            for order in others {
                guard let row = rows[order.orderId] else { throw VanishedOrder() }
                if row.status == .failed { failed.append(order) } else { done[order.orderId] = row }
            }
            if !failed.isEmpty {
                // Applied now, in the row it failed in (its created_at stays): its
                // lines are written again below with those of the new orders.
                let ids = PostgresArray(failed.map(\.orderId))
                try connection.query(
                    "UPDATE orders SET status = 'CONFIRMED', reason = NULL, updated_at = now() WHERE id = ANY($1::uuid[])", [ids])
                try connection.query("DELETE FROM order_lines WHERE order_id = ANY($1::uuid[])", [ids])
                fresh.formUnion(failed.map(\.orderId))
            }
            if !done.isEmpty {
                for row in try connection.query(
                    "SELECT order_id, id, vendor_id, product_id, quantity, kind FROM stock_movements WHERE order_id = ANY($1::uuid[]) AND kind = 'allocate' ORDER BY line_no, vendor_id",
                    [PostgresArray(Array(done.keys))]
                ).rows {
                    let orderId: UUID = try row.decode(0)
                    previousAllocations[orderId, default: []].append(try StockStatements.vendorMovement(row, orderId: orderId, from: 1))
                }
            }
        }
        // Already applied: answered from the stored row, every copy a duplicate.
        var decided: [UUID: OrderApplication] = [:]
        for (orderId, row) in done {
            decided[orderId] = OrderApplication(
                orderId: orderId, status: row.status, reason: row.reason, allocations: previousAllocations[orderId] ?? [], duplicate: true)
        }

        let newOrders = firsts.filter { fresh.contains($0.orderId) }
        // What is left of each product, by product: each order sees only its own
        // products' rows, so a window costs O(orders), not O(orders × products).
        var stock: [String: [VendorStock]] = [:]
        if !newOrders.isEmpty {
            try StockStatements.insertLines(newOrders, on: connection)

            // Step 2, under the stock locks.
            let products = Array(Set(newOrders.flatMap { $0.lines.map(\.productId) })).sorted()
            for entry in try StockStatements.lock(products, on: connection) {
                stock[entry.productId, default: []].append(entry)
            }
        }

        var results: [OrderApplication] = []
        var rejected: [(orderId: UUID, reason: String)] = []
        var allocations: [StockStatements.NewMovement] = []
        for order in orders {
            if let previous = decided[order.orderId] {
                results.append(OrderApplication(orderId: order.orderId, status: previous.status, reason: previous.reason, allocations: previous.allocations, duplicate: true))
                continue
            }
            let application: OrderApplication
            let orderProducts = Set(order.lines.map(\.productId))
            switch AllocationPolicy.decide(lines: order.lines, stock: orderProducts.flatMap { stock[$0] ?? [] }) {
            case .reject(let reason):
                application = OrderApplication(orderId: order.orderId, status: .rejected, reason: reason, allocations: [], duplicate: false)
                rejected.append((order.orderId, reason))
            case .allocate(let plan):
                let planned = StockStatements.movements(plan, kind: .allocate, orderId: order.orderId)
                allocations += planned
                for taken in plan {
                    // (product, vendor) is vendor_stock's key: one row to replace.
                    guard let index = stock[taken.productId]?.firstIndex(where: { $0.vendorId == taken.vendorId }) else { continue }
                    let row = stock[taken.productId]![index]
                    stock[taken.productId]![index] = VendorStock(vendorId: row.vendorId, productId: row.productId, stock: row.stock - taken.quantity)
                }
                application = OrderApplication(
                    orderId: order.orderId, status: .confirmed, reason: nil,
                    allocations: planned.compactMap(\.vendorMovement),
                    duplicate: false)
            }
            decided[order.orderId] = application
            results.append(application)
        }

        if !allocations.isEmpty {
            try StockStatements.applyToStock(allocations, on: connection)
            try StockStatements.insertMovements(allocations, on: connection)
        }
        if !rejected.isEmpty {
            try connection.query(
                """
                UPDATE orders AS o SET status = 'REJECTED', reason = d.reason, updated_at = now()
                FROM unnest($1::uuid[], $2::text[]) AS d(id, reason)
                WHERE o.id = d.id
                """, [PostgresArray(rejected.map(\.orderId)), PostgresArray(rejected.map(\.reason))])
        }
        return results
    }

    /// Records an order whose retries were spent as FAILED (unless it was applied meanwhile).
    public static func markFailed(_ order: OrderPlaced, reason: String, on connection: PostgresConnection) throws {
        try connection.withTransaction { connection in
            let inserted = try connection.query(
                """
                INSERT INTO orders (id, idempotency_key, status, reason, queued_at) VALUES ($1, $2, 'FAILED', $3, $4)
                ON CONFLICT DO NOTHING
                """, [order.orderId, order.idempotencyKey, reason, order.acceptedAt]
            ).affectedRows
            if inserted == 1 { try StockStatements.insertLines([order], on: connection) }
        }
    }

    /// The stored outcome of an order, or nil when it was never applied.
    public static func existing(_ orderId: UUID, on connection: PostgresConnection) throws -> OrderApplication? {
        guard let row = try connection.query("SELECT status, reason FROM orders WHERE id = $1", [orderId]).first,
            let status = OrderState(rawValue: try row.decode(0, as: String.self))
        else { return nil }
        let allocations = try connection.query(
            "SELECT id, vendor_id, product_id, quantity, kind FROM stock_movements WHERE order_id = $1 AND kind = 'allocate' ORDER BY line_no, vendor_id", [orderId]
        ).rows.map { try StockStatements.vendorMovement($0, orderId: orderId, from: 0) }
        return OrderApplication(orderId: orderId, status: status, reason: try row.decode(1, as: String?.self), allocations: allocations, duplicate: true)
    }

    /// Inserts the orders as CONFIRMED (step 2 turns the rejected ones) and
    /// returns the ids it inserted.
    private static func insertOrders(_ orders: [OrderPlaced], _ connection: PostgresConnection) throws -> [UUID] {
        try connection.query(
            """
            INSERT INTO orders (id, idempotency_key, status, queued_at)
            SELECT d.id, d.key, 'CONFIRMED', d.queued_at FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) AS d(id, key, queued_at)
            ON CONFLICT (id) DO NOTHING RETURNING id
            """,
            [
                PostgresArray(orders.map(\.orderId)), PostgresArray(optional: orders.map(\.idempotencyKey)),
                PostgresArray(orders.map { $0.acceptedAt.postgresText! }),
            ]
        ).rows.map { try $0.decode(0, as: UUID.self) }
    }
}
