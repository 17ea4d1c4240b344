import Foundation
import OrderCore
import Postgres
import ServiceSupport

/// Writes `orders.status`: the only code that does. Every write is a
/// transition `OrderLifecycle.decide` returned, recorded in the same
/// statement pair as a history row (`order_transitions`) with the next
/// sequence number and a fresh event id.
public enum OrderHistory {
    /// Records a decided transition of an order whose row the caller has
    /// locked (`SELECT … FOR UPDATE`, or inserted in this transaction).
    /// Sets status, reason (the new state's: a FAILED order confirmed on
    /// replay keeps no failure reason) and `last_seq`; returns what was recorded.
    @discardableResult
    public static func record(
        _ transition: OrderTransition, orderId: UUID, actor: OrderActor, on connection: PostgresConnection
    ) throws -> RecordedTransition {
        try record([(orderId, transition)], actor: actor, on: connection)[0]
    }

    /// Records one transition for each of several orders (locked by the
    /// caller), with one statement per table: the worker's window.
    public static func record(
        _ transitions: [(orderId: UUID, transition: OrderTransition)], actor: OrderActor, on connection: PostgresConnection
    ) throws -> [RecordedTransition] {
        guard !transitions.isEmpty else { return [] }
        let eventIds = transitions.map { _ in RandomUUID.make() }
        let rows = try connection.query(
            """
            WITH d AS (
                SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::uuid[])
                    AS d(order_id, from_status, to_status, cause, reason, event_id)
            ), updated AS (
                UPDATE orders AS o SET status = d.to_status, reason = d.reason,
                    last_seq = o.last_seq + 1, updated_at = now()
                FROM d WHERE o.id = d.order_id AND o.status = d.from_status
                RETURNING o.id, o.last_seq, o.updated_at
            )
            INSERT INTO order_transitions (order_id, seq, event_id, from_status, to_status, cause, actor, reason, occurred_at)
            SELECT d.order_id, u.last_seq, d.event_id, d.from_status, d.to_status, d.cause, $7, d.reason, u.updated_at
            FROM d JOIN updated u ON u.id = d.order_id
            RETURNING order_id, seq, event_id, occurred_at
            """,
            [
                PostgresArray(transitions.map(\.orderId)), PostgresArray(transitions.map(\.transition.from.rawValue)),
                PostgresArray(transitions.map(\.transition.to.rawValue)), PostgresArray(transitions.map(\.transition.event.name)),
                PostgresArray(optional: transitions.map(\.transition.event.reason)), PostgresArray(eventIds), actor.rawValue,
            ]
        ).rows
        var recorded: [UUID: (sequence: Int, eventId: UUID, at: Date)] = [:]
        for row in rows {
            recorded[try row.decode(0)] = (try row.decode(1), try row.decode(2), try row.decode(3))
        }
        return try transitions.map { orderId, transition in
            // The row was not in the state the transition starts from: the caller
            // decided on a stale read, which the row lock is there to prevent.
            guard let entry = recorded[orderId] else { throw StaleTransition(orderId: orderId, transition: transition) }
            return RecordedTransition(
                orderId: orderId, sequence: entry.sequence, eventId: entry.eventId, from: transition.from, to: transition.to,
                cause: transition.event.name, actor: actor, reason: transition.event.reason, occurredAt: entry.at)
        }
    }

    /// Inserts the rows of orders a worker is about to decide, in their
    /// initial state (QUEUED, no history yet: QUEUED is where an order starts,
    /// not a transition), and returns the ids it inserted; an order that
    /// already has a row is left alone. The rows are locked until the caller
    /// commits, which it does only after `record` moved each one on.
    public static func insertQueued(_ orders: [OrderPlaced], on connection: PostgresConnection) throws -> [UUID] {
        guard !orders.isEmpty else { return [] }
        return try connection.query(
            """
            INSERT INTO orders (id, idempotency_key, status, queued_at)
            SELECT d.id, d.key, 'QUEUED', d.queued_at FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) AS d(id, key, queued_at)
            ON CONFLICT (id) DO NOTHING RETURNING id
            """,
            [
                PostgresArray(orders.map(\.orderId)), PostgresArray(optional: orders.map(\.idempotencyKey)),
                PostgresArray(orders.map { $0.acceptedAt.postgresText! }),
            ]
        ).rows.map { try $0.decode(0, as: UUID.self) }
    }

    /// An order's history, oldest first.
    public static func transitions(of orderId: UUID, on connection: PostgresConnection) throws -> [RecordedTransition] {
        try transitions(of: [orderId], on: connection)[orderId] ?? []
    }

    /// The histories of several orders, each oldest first, with one statement.
    public static func transitions(of orderIds: [UUID], on connection: PostgresConnection) throws -> [UUID: [RecordedTransition]] {
        guard !orderIds.isEmpty else { return [:] }
        var histories: [UUID: [RecordedTransition]] = [:]
        for row in try connection.query(
            """
            SELECT order_id, seq, event_id, from_status, to_status, cause, actor, reason, occurred_at
            FROM order_transitions WHERE order_id = ANY($1::uuid[]) ORDER BY order_id, seq
            """, [PostgresArray(orderIds)]
        ).rows {
            let orderId: UUID = try row.decode(0)
            histories[orderId, default: []].append(RecordedTransition(
                orderId: orderId, sequence: try row.decode(1), eventId: try row.decode(2),
                from: OrderState(rawValue: try row.decode(3)) ?? .failed, to: OrderState(rawValue: try row.decode(4)) ?? .failed,
                cause: try row.decode(5), actor: OrderActor(rawValue: try row.decode(6)) ?? .system,
                reason: try row.decode(7, as: String?.self), occurredAt: try row.decode(8)))
        }
        return histories
    }

    /// Every event of the order, in sequence order, as `order_events` messages:
    /// what a re-publication sends (subscribers dedup by event id), so that a
    /// later event never reaches a subscriber before an earlier one that a
    /// crash kept from being published.
    public static func eventMessages(of orderId: UUID, exchange: String, on connection: PostgresConnection) throws -> [OutboundMessage] {
        try eventMessages(of: [orderId], exchange: exchange, on: connection)[orderId] ?? []
    }

    /// `eventMessages(of:)` for several orders, with two statements in all.
    public static func eventMessages(of orderIds: [UUID], exchange: String, on connection: PostgresConnection) throws -> [UUID: [OutboundMessage]] {
        guard !orderIds.isEmpty else { return [:] }
        var lines: [UUID: [OrderEventMessage.Line]] = [:]
        for row in try connection.query(
            """
            SELECT order_id, product_id, quantity, returned_quantity FROM order_lines
            WHERE order_id = ANY($1::uuid[]) ORDER BY order_id, line_no
            """, [PostgresArray(orderIds)]
        ).rows {
            lines[try row.decode(0), default: []].append(
                OrderEventMessage.Line(productId: try row.decode(1), quantity: try row.decode(2), returnedQuantity: try row.decode(3)))
        }
        return try transitions(of: orderIds, on: connection).mapValues { history in
            history.map { OrderEventMessage.message($0, lines: lines[$0.orderId] ?? [], exchange: exchange) }
        }
    }

    /// Thrown when a transition was decided from a state the row no longer has.
    public struct StaleTransition: Error, CustomStringConvertible {
        public let orderId: UUID
        public let transition: OrderTransition
        public var description: String {
            "order \(orderId) is no longer \(transition.from.rawValue); \(transition.event.name) was decided on a stale read"
        }
    }
}

/// The transactional outbox: messages a transaction implies, written in that
/// transaction and published after it commits by the relay (in id order,
/// with confirms, then deleted). See migrations/0003_order_lifecycle.sql.
public enum Outbox {
    public static func enqueue(_ messages: [OutboundMessage], on connection: PostgresConnection) throws {
        guard !messages.isEmpty else { return }
        try connection.query(
            """
            INSERT INTO outbox (exchange, routing_key, message_id, correlation_id, type, body)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
            """,
            [
                PostgresArray(messages.map(\.exchange)), PostgresArray(messages.map(\.routingKey)),
                PostgresArray(messages.map(\.messageId)), PostgresArray(optional: messages.map(\.correlationId)),
                PostgresArray(messages.map(\.type)), PostgresArray(messages.map { String(decoding: $0.body, as: UTF8.self) }),
            ])
    }
}
