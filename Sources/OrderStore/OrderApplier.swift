import Foundation
import OrderCore
import Postgres

public enum OrderStatus: String, Sendable, Hashable, Codable {
    case confirmed = "CONFIRMED"
    case rejected = "REJECTED"
    case failed = "FAILED"
}

/// What applying an order did.
public struct OrderApplication: Sendable, Hashable {
    public let orderId: UUID
    public let status: OrderStatus
    public let reason: String?
    /// For a CONFIRMED order, its allocations: one vendor_sync message each.
    public let allocations: [VendorAllocation]
    /// True when the order had already been applied (redelivery, duplicate publish, replay).
    public let duplicate: Bool
}

/// The worker's transaction: lock the stock rows of the order's products in
/// (product, vendor) order, decide with `AllocationPolicy`, decrement, and
/// record the order, its lines and its allocations — all or nothing.
///
/// The order id is the primary key, so an order applies once: a copy that
/// arrives after the commit finds the row and changes nothing; a copy
/// processed concurrently blocks on the key and then fails with 23505, and
/// is answered from the committed row.
public enum OrderApplier {
    public static func apply(_ order: OrderPlaced, on connection: PostgresConnection) throws -> OrderApplication {
        do {
            return try connection.withTransaction { connection in try applyInTransaction(order, connection) }
        } catch let error as PostgresError where error.code == .uniqueViolation && error.tableName == "orders" {
            guard let existing = try existing(order.orderId, on: connection) else { throw error }
            return existing
        }
    }

    private static func applyInTransaction(_ order: OrderPlaced, _ connection: PostgresConnection) throws -> OrderApplication {
        let previous = try connection.query("SELECT status FROM orders WHERE id = $1 FOR UPDATE", [order.orderId]).first
        let previousStatus = try previous.map { try OrderStatus(rawValue: $0.decode(0, as: String.self)) } ?? nil
        if let previousStatus, previousStatus != .failed {
            return try existing(order.orderId, on: connection)!
        }

        let products = Array(Set(order.lines.map(\.productId))).sorted()
        let stock = try StockStatements.lock(products, on: connection)

        let status: OrderStatus
        let reason: String?
        var allocations: [StockStatements.NewAllocation] = []
        switch AllocationPolicy.decide(lines: order.lines, stock: stock) {
        case .reject(let why):
            (status, reason) = (.rejected, why)
        case .allocate(let plan):
            (status, reason) = (.confirmed, nil)
            allocations = StockStatements.newAllocations(plan, orderId: order.orderId)
            try StockStatements.decrement(plan, on: connection)
        }

        if previousStatus == .failed {
            // A replay of an order that had failed: it is applied now.
            try connection.query(
                "UPDATE orders SET status = $2, reason = $3, updated_at = now() WHERE id = $1",
                [order.orderId, status.rawValue, reason])
            try connection.query("DELETE FROM order_lines WHERE order_id = $1", [order.orderId])
        } else {
            try insertOrder(order, status: status, reason: reason, on: connection)
        }
        try StockStatements.insertLines([order], on: connection)
        if !allocations.isEmpty { try StockStatements.insertAllocations(allocations, on: connection) }
        return OrderApplication(
            orderId: order.orderId, status: status, reason: reason, allocations: allocations.map(\.vendorAllocation), duplicate: false)
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
            let status = OrderStatus(rawValue: try row.decode(0, as: String.self))
        else { return nil }
        let allocations = try connection.query(
            "SELECT id, vendor_id, product_id, quantity FROM allocations WHERE order_id = $1 ORDER BY line_no, vendor_id", [orderId]
        ).rows.map { try StockStatements.allocation($0, orderId: orderId, from: 0) }
        return OrderApplication(orderId: orderId, status: status, reason: try row.decode(1, as: String?.self), allocations: allocations, duplicate: true)
    }

    private static func insertOrder(_ order: OrderPlaced, status: OrderStatus, reason: String?, on connection: PostgresConnection) throws {
        try connection.query(
            "INSERT INTO orders (id, idempotency_key, status, reason, queued_at) VALUES ($1, $2, $3, $4, $5)",
            [order.orderId, order.idempotencyKey, status.rawValue, reason, order.acceptedAt])
    }
}
