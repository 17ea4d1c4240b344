import Foundation
import OrderCore
import Postgres

/// Applies a window of orders in one transaction: the stock rows of every
/// product in the window are locked once (FOR UPDATE, product then vendor
/// order), each order is decided in delivery order against the stock the
/// earlier ones left (so one that would overshoot is REJECTED exactly as it
/// would be alone), and the decrements and rows are written with one
/// statement each. One commit — one fsync — for the whole window.
///
/// Any error (including a concurrent copy of one of the orders committing
/// first) rolls the whole window back; the caller then applies the orders one
/// by one with `OrderApplier`, so no order suffers for another.
public enum OrderBatchApplier {
    public static func apply(_ orders: [OrderPlaced], on connection: PostgresConnection) throws -> [OrderApplication] {
        try connection.withTransaction { connection in try applyInTransaction(orders, connection) }
    }

    private static func applyInTransaction(_ orders: [OrderPlaced], _ connection: PostgresConnection) throws -> [OrderApplication] {
        let ids = Array(Set(orders.map(\.orderId)))
        let existing = try Dictionary(uniqueKeysWithValues: connection.query(
            "SELECT id, status, reason FROM orders WHERE id = ANY($1::uuid[]) FOR UPDATE", [PostgresArray(ids.map(\.uuidString))]
        ).rows.map { row in
            (try row.decode(0, as: UUID.self), (status: OrderStatus(rawValue: try row.decode(1, as: String.self)) ?? .failed, reason: try row.decode(2, as: String?.self)))
        })
        // A FAILED order replayed from the DLQ is applied now: its old row goes.
        let failed = existing.filter { $0.value.status == .failed }.map(\.key)
        if !failed.isEmpty {
            try connection.query("DELETE FROM orders WHERE id = ANY($1::uuid[])", [PostgresArray(failed.map(\.uuidString))])
        }
        let done = existing.filter { $0.value.status != .failed }
        var previousAllocations: [UUID: [VendorAllocation]] = [:]
        if !done.isEmpty {
            for row in try connection.query(
                "SELECT order_id, id, vendor_id, product_id, quantity FROM allocations WHERE order_id = ANY($1::uuid[]) ORDER BY line_no, vendor_id",
                [PostgresArray(done.keys.map(\.uuidString))]
            ).rows {
                let orderId: UUID = try row.decode(0)
                previousAllocations[orderId, default: []].append(
                    VendorAllocation(allocationId: try row.decode(1), orderId: orderId, vendorId: try row.decode(2), productId: try row.decode(3), quantity: try row.decode(4)))
            }
        }

        let products = Array(Set(orders.flatMap { $0.lines.map(\.productId) })).sorted()
        // What is left of each product, by product: each order sees only its own
        // products' rows, so a window costs O(orders), not O(orders × products).
        var stock: [String: [VendorStock]] = [:]
        for row in try connection.query(
            """
            SELECT vendor_id, product_id, stock FROM vendor_stock
            WHERE product_id = ANY($1::text[])
            ORDER BY product_id, vendor_id
            FOR UPDATE
            """, [PostgresArray(products)]
        ).rows {
            let entry = VendorStock(vendorId: try row.decode(0), productId: try row.decode(1), stock: try row.decode(2))
            stock[entry.productId, default: []].append(entry)
        }

        var results: [OrderApplication] = []
        var decided: [UUID: OrderApplication] = [:]
        var newOrders: [(order: OrderPlaced, status: OrderStatus, reason: String?)] = []
        var allocations: [(PlannedAllocation, UUID, UUID)] = []  // plan, allocation id, order id
        for order in orders {
            if let previous = decided[order.orderId] {
                results.append(OrderApplication(orderId: order.orderId, status: previous.status, reason: previous.reason, allocations: previous.allocations, duplicate: true))
                continue
            }
            if let row = done[order.orderId] {
                let application = OrderApplication(orderId: order.orderId, status: row.status, reason: row.reason, allocations: previousAllocations[order.orderId] ?? [], duplicate: true)
                decided[order.orderId] = application
                results.append(application)
                continue
            }
            let application: OrderApplication
            let orderProducts = Set(order.lines.map(\.productId))
            switch AllocationPolicy.decide(lines: order.lines, stock: orderProducts.flatMap { stock[$0] ?? [] }) {
            case .reject(let reason):
                application = OrderApplication(orderId: order.orderId, status: .rejected, reason: reason, allocations: [], duplicate: false)
                newOrders.append((order, .rejected, reason))
            case .allocate(let plan):
                let planned = plan.map { ($0, UUID(), order.orderId) }
                allocations += planned
                for taken in plan {
                    stock[taken.productId] = stock[taken.productId]?.map { row in
                        row.vendorId == taken.vendorId ? VendorStock(vendorId: row.vendorId, productId: row.productId, stock: row.stock - taken.quantity) : row
                    }
                }
                application = OrderApplication(
                    orderId: order.orderId, status: .confirmed, reason: nil,
                    allocations: planned.map { VendorAllocation(allocationId: $0.1, orderId: order.orderId, vendorId: $0.0.vendorId, productId: $0.0.productId, quantity: $0.0.quantity) },
                    duplicate: false)
                newOrders.append((order, .confirmed, nil))
            }
            decided[order.orderId] = application
            results.append(application)
        }
        guard !newOrders.isEmpty else { return results }

        var decrements: [String: (productId: String, vendorId: String, quantity: Int)] = [:]
        for (planned, _, _) in allocations {
            decrements["\(planned.productId)\u{0}\(planned.vendorId)", default: (planned.productId, planned.vendorId, 0)].quantity += planned.quantity
        }
        if !decrements.isEmpty {
            let rows = decrements.values.sorted { ($0.productId, $0.vendorId) < ($1.productId, $1.vendorId) }
            try connection.query(
                """
                UPDATE vendor_stock AS s SET stock = s.stock - d.quantity
                FROM unnest($1::text[], $2::text[], $3::int[]) AS d(product_id, vendor_id, quantity)
                WHERE s.product_id = d.product_id AND s.vendor_id = d.vendor_id
                """, [PostgresArray(rows.map(\.productId)), PostgresArray(rows.map(\.vendorId)), PostgresArray(rows.map(\.quantity))])
        }
        try connection.query(
            """
            INSERT INTO orders (id, idempotency_key, status, reason, queued_at)
            SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])
            """,
            [
                PostgresArray(newOrders.map(\.order.orderId.uuidString)), PostgresArray(optional: newOrders.map(\.order.idempotencyKey)),
                PostgresArray(newOrders.map(\.status.rawValue)), PostgresArray(optional: newOrders.map(\.reason)),
                PostgresArray(newOrders.map { $0.order.acceptedAt.postgresText! }),
            ])
        let lines = newOrders.flatMap { entry in entry.order.lines.enumerated().map { (entry.order.orderId, $0.offset + 1, $0.element) } }
        try connection.query(
            """
            INSERT INTO order_lines (order_id, line_no, product_id, quantity)
            SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::int[])
            """,
            [PostgresArray(lines.map(\.0.uuidString)), PostgresArray(lines.map(\.1)), PostgresArray(lines.map(\.2.productId)), PostgresArray(lines.map(\.2.quantity))])
        if !allocations.isEmpty {
            try connection.query(
                """
                INSERT INTO allocations (id, order_id, line_no, vendor_id, product_id, quantity)
                SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::text[], $5::text[], $6::int[])
                """,
                [
                    PostgresArray(allocations.map(\.1.uuidString)), PostgresArray(allocations.map(\.2.uuidString)),
                    PostgresArray(allocations.map(\.0.lineNumber)), PostgresArray(allocations.map(\.0.vendorId)),
                    PostgresArray(allocations.map(\.0.productId)), PostgresArray(allocations.map(\.0.quantity)),
                ])
        }
        return results
    }
}
