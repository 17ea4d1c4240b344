import BenchReport
import Foundation
import Postgres
import ServiceSupport

/// The bench's SQL, in ordersdb and in the vendor databases. Every row it
/// writes is about products named bench-* (orders are found through their
/// lines), vendors named bench-vendor-* and vendor databases bench_vendor_*.
struct BenchDatabase {
    static let rows = "bench-%"
    let orders: PostgresConnection

    init() throws {
        orders = try PostgresConnection.connect(configuration: PostgresConfiguration(url: EnvironmentConfiguration().databaseURL))
    }

    static func vendor(url: String) throws -> PostgresConnection {
        try PostgresConnection.connect(configuration: PostgresConfiguration(url: url))
    }

    /// VENDOR_DATABASE_URLS as (name, url) pairs.
    static func vendorURLs() throws -> [(name: String, url: String)] { try EnvironmentConfiguration().vendorDatabaseURLs() }

    func int(_ sql: String, _ parameters: [any PostgresEncodable] = []) throws -> Int {
        try orders.query(sql, parameters).singleRow().decode(0, as: Int?.self) ?? 0
    }

    /// A product id: the prefix and the number, zero-padded to four digits at least (bench-u-0001, bench-s-100000).
    /// The SQL form of `BenchProduct.id`.
    static let productIdSQL = "$1 || lpad(i::text, greatest(4, length(i::text)), '0')"

    /// Creates (or restocks) `products` products `prefix`0001… with `stock` at each vendor, in ordersdb and in each vendor's database.
    func createProducts(prefix: String, count: Int, stock: Int, vendors: [(name: String, url: String)], name: String = "bench") throws {
        for vendor in vendors {
            try orders.query("INSERT INTO vendors (id, name) VALUES ($1, $1) ON CONFLICT DO NOTHING", vendor.name)
        }
        try orders.query("""
            INSERT INTO products (id, name, price_minor, currency)
                SELECT \(Self.productIdSQL), $2, 100, 'EUR' FROM generate_series(1, $3::int) AS i
                ON CONFLICT (id) DO UPDATE SET price_minor = 100, currency = 'EUR'
            """, prefix, name, count)
        for vendor in vendors {
            try orders.query("""
                INSERT INTO vendor_stock (product_id, vendor_id, stock, synced_at)
                    SELECT \(Self.productIdSQL), $2, $4, now() FROM generate_series(1, $3::int) AS i
                    ON CONFLICT (product_id, vendor_id) DO UPDATE SET stock = EXCLUDED.stock
                """, prefix, vendor.name, count, stock)
            // vendor-sync applies the allocations at the vendor: it must stock them too.
            let database = try Self.vendor(url: vendor.url)
            defer { database.close() }
            try database.query("""
                INSERT INTO products (id, name, stock)
                    SELECT \(Self.productIdSQL), $2, $4 FROM generate_series(1, $3::int) AS i
                    ON CONFLICT (id) DO UPDATE SET stock = EXCLUDED.stock
                """, prefix, name, count, stock)
        }
    }

    /// Sets the stock of every bench row matching `pattern`; returns how many.
    @discardableResult
    func setStock(pattern: String, stock: Int) throws -> Int {
        try orders.query("UPDATE vendor_stock SET stock = $2 WHERE product_id LIKE $1", pattern, stock).affectedRows
    }

    /// Every order about a bench product, with what hangs off it. The orders are
    /// collected once into a temporary table (analyzed, so the planner knows its
    /// size) and everything is deleted by joining on their ids: an
    /// `IN (subquery)` tested per movement is rescanned for every row once the
    /// ids no longer fit in work_mem, quadratic in the bench's leftovers.
    func deleteOrders() throws {
        try orders.executeScript("""
            BEGIN;
            CREATE TEMP TABLE bench_orders ON COMMIT DROP AS
                SELECT DISTINCT order_id AS id FROM order_lines WHERE product_id LIKE '\(Self.rows)';
            ANALYZE bench_orders;
            DELETE FROM payment_intents p USING bench_orders b WHERE p.order_id = b.id;
            DELETE FROM stock_movements m USING bench_orders b WHERE m.order_id = b.id;
            -- Movements of bench products whose order is gone (an interrupted cleanup).
            DELETE FROM stock_movements m WHERE m.product_id LIKE '\(Self.rows)' AND m.order_id IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = m.order_id);
            DELETE FROM reservations r USING bench_orders b WHERE r.order_id = b.id
                AND NOT EXISTS (SELECT 1 FROM stock_movements m WHERE m.reservation_id = r.id);
            DELETE FROM orders o USING bench_orders b WHERE o.id = b.id;
            COMMIT;
            """)
    }

    /// Every bench row: orders, stock, products, in ordersdb and at every vendor.
    func deleteAll(vendors: [(name: String, url: String)]) throws {
        for vendor in vendors {
            let database = try Self.vendor(url: vendor.url)
            defer { database.close() }
            try database.executeScript("""
                BEGIN;
                DELETE FROM applied_movements WHERE product_id LIKE '\(Self.rows)';
                DELETE FROM products WHERE id LIKE '\(Self.rows)';
                COMMIT;
                """)
        }
        try deleteOrders()
        try orders.executeScript("""
            BEGIN;
            DELETE FROM product_stock_levels WHERE product_id LIKE '\(Self.rows)';
            DELETE FROM vendor_stock WHERE product_id LIKE '\(Self.rows)' OR vendor_id LIKE 'bench-vendor-%';
            DELETE FROM products WHERE id LIKE '\(Self.rows)';
            DELETE FROM vendors WHERE id LIKE 'bench-vendor-%';
            COMMIT;
            """)
    }

    func vacuum() throws {
        try orders.executeScript("VACUUM (ANALYZE) orders, order_transitions, order_lines, stock_movements, vendor_stock")
    }

    /// Orders (by their lines) about products `prefix`…
    func appliedCount(prefix: String) throws -> Int {
        try int("SELECT count(*) FROM order_lines WHERE product_id LIKE $1", [prefix + "%"])
    }

    /// The ids as a uuid[] parameter.
    static func idArray(_ ids: [String]) -> String { "{" + ids.joined(separator: ",") + "}" }
}
