import Postgres

/// A channel's SKUs for our products (`sku_mappings`). Without a row a SKU is
/// the product id, both ways, so a shop whose SKUs are our ids needs no rows.
public enum SKUMappings {
    /// The product each of `skus` names on `channel`; a SKU without a mapping is left out (it names the product of its own id).
    public static func products(forSKUs skus: [String], channel: String, on connection: PostgresConnection) throws -> [String: String] {
        var products: [String: String] = [:]
        for row in try connection.query(
            "SELECT sku, product_id FROM sku_mappings WHERE channel = $1 AND sku = ANY($2::text[])", [channel, PostgresArray(skus)]
        ).rows {
            products[try row.decode(0, as: String.self)] = try row.decode(1, as: String.self)
        }
        return products
    }

    /// The SKU `channel` knows each of `productIds` by; a product without a mapping is left out (its SKU is its id).
    public static func skus(forProducts productIds: [String], channel: String, on connection: PostgresConnection) throws -> [String: String] {
        var skus: [String: String] = [:]
        for row in try connection.query(
            "SELECT product_id, sku FROM sku_mappings WHERE channel = $1 AND product_id = ANY($2::text[])", [channel, PostgresArray(productIds)]
        ).rows {
            skus[try row.decode(0, as: String.self)] = try row.decode(1, as: String.self)
        }
        return skus
    }

    /// Maps `sku` on `channel` to `productId` (replacing its earlier mapping), with the channel's inventory item id when it has one.
    public static func set(sku: String, channel: String, productId: String, inventoryItemId: Int64?, on connection: PostgresConnection) throws {
        _ = try connection.query(
            """
            INSERT INTO sku_mappings (channel, sku, product_id, inventory_item_id) VALUES ($1, $2, $3, $4)
            ON CONFLICT (channel, sku) DO UPDATE SET product_id = excluded.product_id, inventory_item_id = excluded.inventory_item_id
            """, [channel, sku, productId, inventoryItemId])
    }
}
