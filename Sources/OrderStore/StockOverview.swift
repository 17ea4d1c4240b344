import Foundation
import Postgres

/// Stock per product and vendor as the operator console shows it.
public struct VendorStockFigure: Sendable, Hashable {
    public let productId: String
    public let productName: String?
    public let vendorId: String
    /// Local stock (`vendor_stock.stock`): what orders can still take.
    public let stock: Int
    /// Units live reservations hold there (Σhold − Σrelease of ACTIVE reservations).
    public let held: Int
    /// Units vendor-sync has not applied at the vendor yet (PENDING allocations − PENDING restocks).
    public let pending: Int
    public let syncedAt: Date?
}

public enum StockOverview {
    /// Every product's stock at each vendor, with held and pending units; `product` narrows it to one product.
    public static func figures(product: String? = nil, on connection: PostgresConnection) throws -> [VendorStockFigure] {
        try connection.query(
            """
            SELECT s.product_id, p.name, s.vendor_id, s.stock, s.synced_at,
                coalesce((SELECT sum(CASE m.kind WHEN 'hold' THEN m.quantity ELSE -m.quantity END)
                          FROM stock_movements m JOIN reservations r ON r.id = m.reservation_id
                          WHERE m.product_id = s.product_id AND m.vendor_id = s.vendor_id
                            AND m.kind IN ('hold', 'release') AND r.status = 'ACTIVE'), 0)::int,
                coalesce((SELECT sum(CASE m.kind WHEN 'allocate' THEN m.quantity ELSE -m.quantity END)
                          FROM stock_movements m
                          WHERE m.product_id = s.product_id AND m.vendor_id = s.vendor_id AND m.status = 'PENDING'), 0)::int
            FROM vendor_stock s JOIN products p ON p.id = s.product_id
            WHERE $1::text IS NULL OR s.product_id = $1
            ORDER BY s.product_id, s.vendor_id
            """, [product]
        ).rows.map {
            VendorStockFigure(
                productId: try $0.decode(0), productName: try $0.decode(1, as: String?.self), vendorId: try $0.decode(2), stock: try $0.decode(3),
                held: try $0.decode(5), pending: try $0.decode(6), syncedAt: try $0.decode(4, as: Date?.self))
        }
    }
}
