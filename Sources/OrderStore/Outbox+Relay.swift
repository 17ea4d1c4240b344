import Foundation
import OrderCore
import Postgres

/// An outbox row the relay is to publish.
public struct OutboxEntry: Sendable, Hashable {
    public let id: Int64
    public let message: OutboundMessage
    /// The W3C `traceparent` the message carries (nil: written outside any trace).
    public let traceparent: String?
}

/// The relay's side of the outbox: which messages are its to publish, in id
/// order, and the lock that lets one relay at a time publish them.
extension Outbox {
    /// The messages of one topology: its events exchange, and its queues by
    /// name through the default exchange. Each deployment (and each test's
    /// topology, in a shared database) relays its own rows and no other's.
    public struct Scope: Sendable, Hashable {
        public let exchange: String
        public let queues: [String]

        public init(exchange: String, queues: [String]) {
            self.exchange = exchange
            self.queues = queues
        }

        /// The session advisory lock key of this scope's relay: one relay per
        /// scope publishes, so the id order of its rows is their publish order.
        var lockName: String { "outbox-relay:" + exchange }
    }

    /// Takes the relay lock for `scope` on this session, without waiting.
    /// Held until `unlock` or the session ends (a crashed relay's lock goes with its connection).
    public static func tryLock(_ scope: Scope, on connection: PostgresConnection) throws -> Bool {
        try connection.query("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", [scope.lockName]).singleRow().decode(0, as: Bool.self)
    }

    public static func unlock(_ scope: Scope, on connection: PostgresConnection) throws {
        try connection.query("SELECT pg_advisory_unlock(hashtextextended($1, 0))", [scope.lockName])
    }

    /// The oldest `limit` rows of the scope, in id order.
    public static func pending(_ scope: Scope, limit: Int, on connection: PostgresConnection) throws -> [OutboxEntry] {
        try connection.query(
            """
            SELECT id, exchange, routing_key, message_id, correlation_id, type, body, traceparent FROM outbox
            WHERE exchange = $1 OR (exchange = '' AND routing_key = ANY($2::text[]))
            ORDER BY id LIMIT $3
            """, [scope.exchange, PostgresArray(scope.queues), limit]
        ).rows.map { row in
            OutboxEntry(
                id: try row.decode(0),
                message: OutboundMessage(
                    exchange: try row.decode(1), routingKey: try row.decode(2), messageId: try row.decode(3),
                    correlationId: try row.decode(4, as: String?.self), type: try row.decode(5), body: Array(try row.decode(6, as: String.self).utf8)),
                traceparent: try row.decode(7, as: String?.self))
        }
    }

    /// Deletes rows once the broker confirmed them.
    public static func delete(_ ids: [Int64], on connection: PostgresConnection) throws {
        guard !ids.isEmpty else { return }
        try connection.query("DELETE FROM outbox WHERE id = ANY($1::bigint[])", [PostgresArray(ids.map(String.init))])
    }
}
