import Foundation
import OrderCore
import Postgres
import ServiceSupport
import TextCodecs

/// Keeps `product_stock_levels` and writes an `inventory.*` event to the
/// outbox when a product crosses its threshold (`StockLevelPolicy`). Every
/// transaction that changes local stock calls it last, for the products it
/// changed, while it still holds their `vendor_stock` row locks: so two
/// transactions see the same product's levels one after the other.
public enum InventoryLevels {
    @discardableResult
    public static func update(
        _ products: some Collection<String>, policy: StockLevelPolicy, exchange: String, on connection: PostgresConnection
    ) throws -> [OutboundMessage] {
        guard !products.isEmpty else { return [] }
        let ids = Array(Set(products)).sorted()
        let rows = try connection.query(
            """
            SELECT p.id, coalesce((SELECT sum(s.stock) FROM vendor_stock s WHERE s.product_id = p.id), 0)::int, l.level
            FROM unnest($1::text[]) AS p(id) LEFT JOIN product_stock_levels l ON l.product_id = p.id
            ORDER BY p.id
            """, [PostgresArray(ids)]
        ).rows
        var changed: [(productId: String, level: StockLevel, available: Int)] = []
        var messages: [OutboundMessage] = []
        let now = Date()
        for row in rows {
            let productId: String = try row.decode(0)
            let available: Int = try row.decode(1)
            let current = try row.decode(2, as: String?.self).flatMap(StockLevel.init(rawValue:))
            let (level, event) = policy.next(from: current, available: available)
            if level != current { changed.append((productId, level, available)) }
            if let event {
                messages.append(message(event, productId: productId, available: available, level: level, policy: policy, at: now, exchange: exchange))
            }
        }
        if !changed.isEmpty {
            try connection.query(
                """
                INSERT INTO product_stock_levels (product_id, level, available, changed_at)
                SELECT d.product_id, d.level, d.available, now() FROM unnest($1::text[], $2::text[], $3::int[]) AS d(product_id, level, available)
                WHERE EXISTS (SELECT 1 FROM products p WHERE p.id = d.product_id)
                ON CONFLICT (product_id) DO UPDATE SET level = EXCLUDED.level, available = EXCLUDED.available, changed_at = EXCLUDED.changed_at
                """, [PostgresArray(changed.map(\.productId)), PostgresArray(changed.map(\.level.rawValue)), PostgresArray(changed.map(\.available))])
        }
        try Outbox.enqueue(messages, on: connection)
        return messages
    }

    /// The event's message: routing key the event name, `message_id` a fresh
    /// event id, `correlation_id` the product id.
    static func message(
        _ event: InventoryEvent, productId: String, available: Int, level: StockLevel, policy: StockLevelPolicy, at date: Date, exchange: String
    ) -> OutboundMessage {
        let eventId = RandomUUID.make()
        var writer = JSONWriter(capacity: 256)
        writer.raw(#"{"available":"#)
        writer.integer(available)
        writer.raw(#","eventId":"#)
        writer.uuid(eventId)
        writer.raw(#","level":"#)
        writer.string(level.rawValue)
        writer.raw(#","occurredAt":"#)
        writer.date(date)
        writer.raw(#","productId":"#)
        writer.string(productId)
        writer.raw(#","schemaVersion":"#)
        writer.integer(OrderEventMessage.schemaVersion)
        writer.raw(#","threshold":"#)
        writer.integer(policy.threshold)
        writer.raw(#","type":"#)
        writer.string(event.rawValue)
        writer.raw("}")
        return OutboundMessage(
            exchange: exchange, routingKey: event.rawValue, messageId: UUIDText.string(eventId), correlationId: productId,
            type: "\(event.rawValue).v\(OrderEventMessage.schemaVersion)", body: writer.bytes)
    }
}
