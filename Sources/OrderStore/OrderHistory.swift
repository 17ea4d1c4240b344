import Foundation
import Instrumentation
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
    /// caller), with one statement per table: the worker's window. At most one
    /// transition per order per call. The row's reason becomes the
    /// transition's (nil clears a reason an earlier state had).
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
                -- A transition of a state to itself (a late payment given back) keeps the state's reason.
                UPDATE orders AS o SET status = d.to_status,
                    reason = CASE WHEN d.from_status = d.to_status THEN o.reason ELSE d.reason END,
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

    /// Inserts the rows of new orders at the state the worker expects to
    /// decide for them (`expected`, from `OrderLifecycle.decide`), each with
    /// its first history row (sequence 1, from QUEUED: QUEUED is where an
    /// order starts, not a transition), with one statement; an order that has
    /// a row already is left alone. Returns what it recorded, for the orders
    /// it inserted.
    ///
    /// The worker writes its rows before it takes the stock locks, so this
    /// write overlaps another window's locked phase instead of lengthening it;
    /// under the locks it only `correct`s the few orders decided otherwise,
    /// before the commit, so no reader ever sees an expectation.
    public static func insertExpected(
        _ orders: [(order: OrderPlaced, expected: OrderTransition)], actor: OrderActor, on connection: PostgresConnection
    ) throws -> [RecordedTransition] {
        guard !orders.isEmpty else { return [] }
        precondition(orders.allSatisfy { $0.expected.from == .queued }, "a new order starts QUEUED")
        let eventIds = orders.map { _ in RandomUUID.make() }
        let rows = try connection.query(
            """
            WITH d AS (
                SELECT * FROM unnest(
                    $1::uuid[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::uuid[],
                    $9::text[], $10::text[], $11::text[], $12::text[])
                    AS d(id, key, queued_at, to_status, cause, reason, event_id, channel, shop, channel_order_id, channel_order_name)
            ), inserted AS (
                INSERT INTO orders (id, idempotency_key, status, reason, queued_at, last_seq, channel, channel_shop, channel_order_id, channel_order_name)
                SELECT d.id, d.key, d.to_status, d.reason, d.queued_at, 1, d.channel, d.shop, d.channel_order_id, d.channel_order_name FROM d
                ON CONFLICT (id) DO NOTHING
                RETURNING id, updated_at
            )
            INSERT INTO order_transitions (order_id, seq, event_id, from_status, to_status, cause, actor, reason, occurred_at)
            SELECT d.id, 1, d.event_id, 'QUEUED', d.to_status, d.cause, $8, d.reason, i.updated_at
            FROM d JOIN inserted i ON i.id = d.id
            RETURNING order_id, occurred_at
            """,
            [
                PostgresArray(orders.map(\.order.orderId)), PostgresArray(optional: orders.map(\.order.idempotencyKey)),
                PostgresArray(orders.map { $0.order.acceptedAt.postgresText! }), PostgresArray(orders.map(\.expected.to.rawValue)),
                PostgresArray(orders.map(\.expected.event.name)), PostgresArray(optional: orders.map(\.expected.event.reason)),
                PostgresArray(eventIds), actor.rawValue,
            ] + ChannelColumns(orders.map(\.order.channel)).parameters
        ).rows
        var occurred: [UUID: Date] = [:]
        for row in rows { occurred[try row.decode(0)] = try row.decode(1) }
        return zip(orders, eventIds).compactMap { entry, eventId in
            occurred[entry.order.orderId].map { at in
                RecordedTransition(
                    orderId: entry.order.orderId, sequence: 1, eventId: eventId, from: .queued, to: entry.expected.to,
                    cause: entry.expected.event.name, actor: actor, reason: entry.expected.event.reason, occurredAt: at)
            }
        }
    }

    /// Replaces the first transition `insertExpected` recorded in this
    /// transaction for orders the worker decided otherwise (`decided`, also
    /// from `OrderLifecycle.decide`), keeping its event id and time.
    public static func correct(
        _ corrections: [(recorded: RecordedTransition, decided: OrderTransition)], on connection: PostgresConnection
    ) throws -> [RecordedTransition] {
        guard !corrections.isEmpty else { return [] }
        precondition(corrections.allSatisfy { $0.recorded.sequence == 1 && $0.decided.from == .queued }, "only an expected first transition is corrected")
        try connection.query(
            """
            WITH d AS (
                SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) AS d(id, to_status, cause, reason)
            ), corrected AS (
                UPDATE orders AS o SET status = d.to_status, reason = d.reason FROM d WHERE o.id = d.id AND o.last_seq = 1
            )
            UPDATE order_transitions AS t SET to_status = d.to_status, cause = d.cause, reason = d.reason
            FROM d WHERE t.order_id = d.id AND t.seq = 1
            """,
            [
                PostgresArray(corrections.map(\.recorded.orderId)), PostgresArray(corrections.map(\.decided.to.rawValue)),
                PostgresArray(corrections.map(\.decided.event.name)), PostgresArray(optional: corrections.map(\.decided.event.reason)),
            ])
        return corrections.map { recorded, decided in
            RecordedTransition(
                orderId: recorded.orderId, sequence: 1, eventId: recorded.eventId, from: .queued, to: decided.to,
                cause: decided.event.name, actor: recorded.actor, reason: decided.event.reason, occurredAt: recorded.occurredAt)
        }
    }

    /// Inserts a QUEUED order's row, with no history yet, unless it has one:
    /// for recording a transition of an order no worker decided (it failed).
    /// Returns whether it inserted the row.
    public static func insertQueued(_ order: OrderPlaced, on connection: PostgresConnection) throws -> Bool {
        try connection.query(
            """
            INSERT INTO orders (id, idempotency_key, status, queued_at, channel, channel_shop, channel_order_id, channel_order_name)
            VALUES ($1, $2, 'QUEUED', $3, $4, $5, $6, $7)
            ON CONFLICT (id) DO NOTHING
            """,
            [
                order.orderId, order.idempotencyKey, order.acceptedAt, order.channel?.channel, order.channel?.shop, order.channel?.orderId,
                order.channel?.orderName,
            ]
        ).affectedRows == 1
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
    /// Each row takes a new span of the current trace (the request's or the
    /// delivery's whose work wrote it; the pool's thread runs in its caller's
    /// context): the relay publishes it as the message's `traceparent`.
    public static func enqueue(_ messages: [OutboundMessage], on connection: PostgresConnection) throws {
        guard !messages.isEmpty else { return }
        let trace = ServiceContext.current?.traceContext
        try connection.query(
            """
            INSERT INTO outbox (exchange, routing_key, message_id, correlation_id, type, body, traceparent)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
            """,
            [
                PostgresArray(messages.map(\.exchange)), PostgresArray(messages.map(\.routingKey)),
                PostgresArray(messages.map(\.messageId)), PostgresArray(optional: messages.map(\.correlationId)),
                PostgresArray(messages.map(\.type)), PostgresArray(messages.map { String(decoding: $0.body, as: UTF8.self) }),
                PostgresArray(optional: messages.map { _ in trace?.child().traceparent }),
            ])
    }
}
