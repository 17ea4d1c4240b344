import Postgres

/// The demo catalogue: vendorA p1=10, p2=15; vendorB p3=20, p2=5.
public enum DemoData {
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
                try connection.query("INSERT INTO products (id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING", [row.product, "Product \(row.product)"])
                written += try connection.query(
                    """
                    INSERT INTO vendor_stock (product_id, vendor_id, stock, synced_at) VALUES ($1, $2, $3, now())
                    ON CONFLICT (product_id, vendor_id) DO UPDATE SET stock = EXCLUDED.stock, synced_at = now() WHERE $4
                    """, [row.product, row.vendor, row.stock, reset]
                ).affectedRows
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
