import Postgres

/// The demo catalogue: vendorA p1=10, p2=15; vendorB p3=20, p2=5; priced
/// p1 12.50, p2 7.99, p3 24.00 EUR; sold in the demo Shopify shop as DEMO-P1..3.
public enum DemoData {
    /// Each demo product's price in minor units, and the catalogue's one currency.
    public static let prices: [String: Int] = ["p1": 1250, "p2": 799, "p3": 2400]
    public static let currency = "EUR"

    /// Each demo product's SKU in the demo Shopify shop and the shop's
    /// inventory item for it, so channel-sync has something to push.
    public static let shopifyItems: [(product: String, sku: String, inventoryItemId: Int64)] = [
        ("p1", "DEMO-P1", 40_000_001), ("p2", "DEMO-P2", 40_000_002), ("p3", "DEMO-P3", 40_000_003),
    ]

    public static let stock: [(vendor: String, product: String, stock: Int)] = [
        ("vendorA", "p1", 10), ("vendorA", "p2", 15), ("vendorB", "p3", 20), ("vendorB", "p2", 5),
    ]

    /// Registers the vendors and the products in ordersdb, with the demo stock
    /// for rows that do not exist yet (or for all of them with `reset`).
    /// Returns how many stock rows were written.
    @discardableResult
    public static func seedOrders(vendors: [String], reset: Bool, on connection: PostgresConnection) throws -> Int {
        try connection.withTransaction { connection in
            for vendor in vendors {
                try connection.query("INSERT INTO vendors (id, name) VALUES ($1, $1) ON CONFLICT DO NOTHING", [vendor])
            }
            var written = 0
            for row in stock where vendors.contains(row.vendor) {
                // A price an operator set is kept, unless the demo is reset.
                try connection.query(
                    """
                    INSERT INTO products (id, name, price_minor, currency) VALUES ($1, $2, $3, $4)
                    ON CONFLICT (id) DO UPDATE SET price_minor = EXCLUDED.price_minor, currency = EXCLUDED.currency
                    WHERE $5 OR products.price_minor IS NULL
                    """, [row.product, "Product \(row.product)", prices[row.product], prices[row.product].map { _ in currency }, reset])
                written += try connection.query(
                    """
                    INSERT INTO vendor_stock (product_id, vendor_id, stock, synced_at) VALUES ($1, $2, $3, now())
                    ON CONFLICT (product_id, vendor_id) DO UPDATE SET stock = EXCLUDED.stock, synced_at = now() WHERE $4
                    """, [row.product, row.vendor, row.stock, reset]
                ).affectedRows
            }
            // A product an operator mapped (to any SKU) keeps its mapping.
            for item in shopifyItems {
                try connection.query(
                    """
                    INSERT INTO sku_mappings (channel, sku, product_id, inventory_item_id)
                    SELECT 'shopify', $1, $2, $3
                    WHERE EXISTS (SELECT 1 FROM products WHERE id = $2)
                      AND NOT EXISTS (SELECT 1 FROM sku_mappings WHERE channel = 'shopify' AND product_id = $2)
                    ON CONFLICT DO NOTHING
                    """, [item.sku, item.product, item.inventoryItemId])
            }
            return written
        }
    }

    /// Writes the demo stock of one vendor into that vendor's own database.
    @discardableResult
    public static func seedVendor(_ vendor: String, reset: Bool, on connection: PostgresConnection) throws -> Int {
        try connection.withTransaction { connection in
            var written = 0
            for row in stock where row.vendor == vendor {
                written += try connection.query(
                    """
                    INSERT INTO products (id, name, stock) VALUES ($1, $2, $3)
                    ON CONFLICT (id) DO UPDATE SET stock = EXCLUDED.stock, updated_at = now() WHERE $4
                    """, [row.product, "Product \(row.product)", row.stock, reset]
                ).affectedRows
            }
            return written
        }
    }
}
