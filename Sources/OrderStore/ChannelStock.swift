import Foundation
import Postgres

/// The stock figures a sales channel is told (`channel_stock`): for each
/// product mapped to one of the channel's inventory items, our available
/// figure (the sum over vendors, as the API's product and availability reads
/// give it) next to the figure the channel last accepted.
public enum ChannelStock {
    public struct Item: Sendable, Hashable {
        public let productId: String
        /// The channel's handle for the product's stock (Shopify's InventoryItem id).
        public let inventoryItemId: Int64
        /// Ours, now.
        public let available: Int
        /// What the channel last accepted; nil when it was never told.
        public let pushed: Int?

        public var differs: Bool { pushed != available }
    }

    /// Every product `channel` has an inventory item for, in product order.
    public static func items(channel: String, on connection: PostgresConnection) throws -> [Item] {
        let mapped = try connection.query(
            """
            SELECT m.product_id, m.inventory_item_id, c.available
            FROM sku_mappings m LEFT JOIN channel_stock c ON c.channel = m.channel AND c.product_id = m.product_id
            WHERE m.channel = $1 AND m.inventory_item_id IS NOT NULL
            ORDER BY m.product_id
            """, [channel]
        ).rows.map { (productId: try $0.decode(0, as: String.self), item: try $0.decode(1, as: Int64.self), pushed: try $0.decode(2, as: Int?.self)) }
        guard !mapped.isEmpty else { return [] }
        let stock = try Reservations.stockByProduct(mapped.map(\.productId), on: connection)
        return mapped.map { Item(productId: $0.productId, inventoryItemId: $0.item, available: stock[$0.productId] ?? 0, pushed: $0.pushed) }
    }

    /// Records that `channel` accepted `available` for the product.
    public static func record(channel: String, productId: String, available: Int, on connection: PostgresConnection) throws {
        try connection.query(
            """
            INSERT INTO channel_stock (channel, product_id, available, pushed_at) VALUES ($1, $2, $3, now())
            ON CONFLICT (channel, product_id) DO UPDATE SET available = excluded.available, pushed_at = excluded.pushed_at
            """, [channel, productId, available])
    }

    /// The status of each of `orderIds` that has an order row.
    public static func orderStatuses(_ orderIds: [UUID], on connection: PostgresConnection) throws -> [UUID: String] {
        guard !orderIds.isEmpty else { return [:] }
        return Dictionary(uniqueKeysWithValues: try connection.query(
            "SELECT id, status FROM orders WHERE id = ANY($1::uuid[])", [PostgresArray(orderIds)]
        ).rows.map { (try $0.decode(0, as: UUID.self), try $0.decode(1, as: String.self)) })
    }

    /// Which of the channel's order ids (`orders.channel_order_id`) have an order row, whatever shop spelling derived its id.
    public static func knownChannelOrders(_ channelOrderIds: [String], channel: String, on connection: PostgresConnection) throws -> Set<String> {
        guard !channelOrderIds.isEmpty else { return [] }
        return Set(try connection.query(
            "SELECT channel_order_id FROM orders WHERE channel = $1 AND channel_order_id = ANY($2::text[])", [channel, PostgresArray(channelOrderIds)]
        ).rows.map { try $0.decode(0, as: String.self) })
    }
}
