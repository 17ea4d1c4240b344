import OrderCore
import Postgres

/// Product prices (`products.price_minor`, `products.currency`): what
/// `GET /products` shows, what order-api's catalogue checks a paying order
/// against, and what the Stock Service API sets.
public enum ProductPrices {
    /// Every product, with its price or nil when it has none.
    public static func all(on connection: PostgresConnection) throws -> [String: Money?] {
        var prices: [String: Money?] = [:]
        for row in try connection.query("SELECT id, price_minor, currency FROM products").rows {
            // updateValue: an unpriced product is kept, as nil, not left out.
            prices.updateValue(try price(row), forKey: try row.decode(0, as: String.self))
        }
        return prices
    }

    /// The prices of `productIds` that exist (nil: unpriced).
    public static func of(_ productIds: [String], on connection: PostgresConnection) throws -> [String: Money?] {
        var prices: [String: Money?] = [:]
        for row in try connection.query(
            "SELECT id, price_minor, currency FROM products WHERE id = ANY($1::text[])", [PostgresArray(productIds)]
        ).rows {
            prices.updateValue(try price(row), forKey: try row.decode(0, as: String.self))
        }
        return prices
    }

    private static func price(_ row: PostgresRow) throws -> Money? {
        let minor = try row.decode(1, as: Int?.self)
        let currency = try row.decode(2, as: String?.self)
        return minor.flatMap { minor in currency.map { Money(minor: minor, currency: $0) } }
    }

    /// Sets (or with nil removes) a product's price; false when there is no such product.
    public static func set(_ productId: String, to price: Money?, on connection: PostgresConnection) throws -> Bool {
        try connection.query(
            "UPDATE products SET price_minor = $2, currency = $3 WHERE id = $1 RETURNING id",
            [productId, price?.minor, price?.currency]
        ).first != nil
    }
}
