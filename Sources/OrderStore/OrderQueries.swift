import Foundation
import OrderCore
import Postgres
import TextCodecs

/// An order as `GET /orders/{id}` shows it.
public struct OrderDetails: Sendable, Hashable, Codable {
    public struct Line: Sendable, Hashable, Codable {
        public let lineNo: Int
        public let productId: String
        public let quantity: Int
        /// Units of the line that came back (RETURNED per line).
        public let returnedQuantity: Int
    }

    /// A row of the stock-movement ledger that belongs to the order.
    public struct Movement: Sendable, Hashable, Codable {
        @LowercaseUUID public var movementId: UUID
        /// allocate, hold, release or restock.
        public let kind: String
        public let lineNo: Int?
        public let vendorId: String
        public let productId: String
        public let quantity: Int
        /// PENDING / APPLIED / CONFLICTED for what the vendor is told, LOCAL for holds and releases.
        public let status: String
        public let appliedAt: Date?
        public let createdAt: Date
    }

    /// The order's payment (absent for an order that pays nothing through the gateway).
    public struct Payment: Sendable, Hashable, Codable {
        /// The Stripe PaymentMethod the customer gave.
        public let method: String
        /// PENDING, REQUIRES_ACTION, AUTHORIZED, CAPTURED, VOIDED, DECLINED or REFUNDED.
        public let status: String
        /// The gateway's PaymentIntent, once the payment worker made one.
        public let intentId: String?
        public let amount: Money
        public let captured: Money
        public let refunded: Money
        /// The decline code, or why an operator should look (a void or refund the gateway refused).
        public let reason: String?

        /// Every key always, an unknown intent or no reason as null: the API's schema lists them all as required.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(method, forKey: .method)
            try container.encode(status, forKey: .status)
            try container.encode(intentId, forKey: .intentId)
            try container.encode(amount, forKey: .amount)
            try container.encode(captured, forKey: .captured)
            try container.encode(refunded, forKey: .refunded)
            try container.encode(reason, forKey: .reason)
        }
    }

    /// The sales channel's own reference of an order a channel sent.
    public struct Channel: Sendable, Hashable, Codable {
        /// The channel, e.g. "shopify".
        public let name: String
        public let shop: String
        public let orderId: String
        public let orderName: String?
    }

    @LowercaseUUID public var orderId: UUID
    public let status: OrderState
    public let reason: String?
    public let reviewRequired: Bool
    public let reviewReason: String?
    public let idempotencyKey: String?
    /// Until when a RESERVED or PAYMENT_PENDING order's stock is held.
    public let reservedUntil: Date?
    /// The checkout hold the order consumed (lower case, as every id the API writes).
    public let reservationId: String?
    public let queuedAt: Date?
    public let createdAt: Date
    public let updatedAt: Date
    public let lines: [Line]
    public let movements: [Movement]
    public let payment: Payment?
    /// Absent for an order placed through the HTTP API.
    public let channel: Channel?
    /// The warehouse's parcels and their last scans (absent when none).
    public var shipments: [Shipment]?

    /// A parcel and its last carrier scan.
    public struct Shipment: Sendable, Hashable, Codable {
        public let trackingNumber: String
        public let carrier: String?
        /// SHIPPED, IN_TRANSIT or DELIVERED.
        public let status: String
        public let updatedAt: Date
    }

    /// The movements that took stock from a vendor for the order.
    public var allocations: [Movement] { movements.filter { $0.kind == StockMovementKind.allocate.rawValue } }
}

/// A product's stock: available is the sum over its vendors.
public struct ProductStock: Sendable, Hashable, Codable {
    public struct VendorFigure: Sendable, Hashable, Codable {
        public let vendorId: String
        public let stock: Int
        public let syncedAt: Date?
    }

    public let productId: String
    public let name: String?
    public let available: Int
    public let vendors: [VendorFigure]
}

/// The reads behind the HTTP API and `orderctl orders show`.
public enum OrderQueries {
    public static func order(_ id: UUID, on connection: PostgresConnection) throws -> OrderDetails? {
        guard let row = try connection.query(
            """
            SELECT id, status, reason, review_required, review_reason, idempotency_key, reserved_until, reservation_id,
                queued_at, created_at, updated_at, channel, channel_shop, channel_order_id, channel_order_name
            FROM orders WHERE id = $1
            """, [id]
        ).first else { return nil }
        let lines = try connection.query(
            "SELECT line_no, product_id, quantity, returned_quantity FROM order_lines WHERE order_id = $1 ORDER BY line_no", [id]
        ).rows.map {
            try OrderDetails.Line(lineNo: $0.decode(0), productId: $0.decode(1), quantity: $0.decode(2), returnedQuantity: $0.decode(3))
        }
        let movements = try connection.query(
            """
            SELECT id, kind, line_no, vendor_id, product_id, quantity, status, applied_at, created_at
            FROM stock_movements WHERE order_id = $1 ORDER BY created_at, line_no, vendor_id, kind
            """, [id]
        ).rows.map {
            try OrderDetails.Movement(
                movementId: $0.decode(0), kind: $0.decode(1), lineNo: $0.decode(2, as: Int?.self), vendorId: $0.decode(3),
                productId: $0.decode(4), quantity: $0.decode(5), status: $0.decode(6), appliedAt: $0.decode(7, as: Date?.self),
                createdAt: $0.decode(8))
        }
        let shipments = try Fulfilment.shipments(of: id, on: connection)
        return try OrderDetails(
            orderId: row.decode(0), status: OrderState(rawValue: row.decode(1)) ?? .failed, reason: row.decode(2, as: String?.self),
            reviewRequired: row.decode(3), reviewReason: row.decode(4, as: String?.self), idempotencyKey: row.decode(5, as: String?.self),
            reservedUntil: row.decode(6, as: Date?.self), reservationId: row.decode(7, as: UUID?.self).map(UUIDText.string),
            queuedAt: row.decode(8, as: Date?.self), createdAt: row.decode(9), updatedAt: row.decode(10), lines: lines,
            movements: movements, payment: try Payments.payment(of: id, locking: false, on: connection),
            channel: row.decode(11, as: String?.self).map {
                OrderDetails.Channel(
                    name: $0, shop: try row.decode(12, as: String?.self) ?? "", orderId: try row.decode(13), orderName: try row.decode(14, as: String?.self))
            },
            shipments: shipments.isEmpty ? nil : shipments)
    }

    /// The order that holds this Idempotency-Key, with its lines in request
    /// order; nil when no order does. Every stored order has its lines (a
    /// FAILED one too), so they tell whether a request reuses the key for
    /// another order; the id is the one to answer a retry with, whatever id
    /// the key would derive today (ids signed under another secret, or not yet signed).
    public static func order(ofIdempotencyKey key: String, on connection: PostgresConnection) throws -> (orderId: UUID, lines: [OrderLine])? {
        let rows = try connection.query(
            """
            SELECT o.id, l.product_id, l.quantity
            FROM orders o LEFT JOIN order_lines l ON l.order_id = o.id
            WHERE o.idempotency_key = $1
            ORDER BY l.line_no
            """, [key]
        ).rows
        guard let first = rows.first else { return nil }
        let lines = try rows.compactMap { row -> OrderLine? in
            guard let productId = try row.decode(1, as: String?.self) else { return nil }
            return OrderLine(productId: productId, quantity: try row.decode(2))
        }
        return (try first.decode(0, as: UUID.self), lines)
    }

    /// Every product, or the one asked for.
    public static func products(_ id: String? = nil, on connection: PostgresConnection) throws -> [ProductStock] {
        let rows = try connection.query(
            """
            SELECT p.id, p.name, s.vendor_id, s.stock, s.synced_at
            FROM products p LEFT JOIN vendor_stock s ON s.product_id = p.id
            WHERE $1::text IS NULL OR p.id = $1
            ORDER BY p.id, s.vendor_id
            """, [id]
        ).rows
        var products: [ProductStock] = []
        var current: (id: String, name: String?, vendors: [ProductStock.VendorFigure])?
        func flush() {
            guard let current else { return }
            products.append(ProductStock(productId: current.id, name: current.name, available: current.vendors.reduce(0) { $0 + $1.stock }, vendors: current.vendors))
        }
        for row in rows {
            let productId: String = try row.decode(0)
            if current?.id != productId {
                flush()
                current = (productId, try row.decode(1, as: String?.self), [])
            }
            if let vendor = try row.decode(2, as: String?.self) {
                current?.vendors.append(.init(vendorId: vendor, stock: try row.decode(3), syncedAt: try row.decode(4, as: Date?.self)))
            }
        }
        flush()
        return products
    }
}
