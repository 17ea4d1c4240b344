import AMQP
import Foundation
import OrderCore

/// The headers a worker writes when it sends a message to a retry queue or a
/// DLQ, and an operator's replay or move writes after it. Headers carry retry
/// state only; the body is never changed. Every module that writes or reads
/// them goes through this type, so a header's name and type are stated once.
public struct FailureHeaders: Sendable, Hashable {
    /// The header names.
    public enum Name {
        /// How many times the message has been sent to the retry queue (integer).
        public static let retryCount = "x-retry-count"
        /// A stable code: `undecodable-message`, `invalid-message`, `database-unavailable`, …
        public static let reason = "x-error-reason"
        /// A human-readable description (no secrets, no SQL parameters).
        public static let message = "x-error-message"
        /// When the last failure happened (ISO 8601).
        public static let failedAt = "x-failed-at"
        /// The queue the message was consumed from, so a replay knows where it goes back to.
        public static let originalQueue = "x-original-queue"
        /// Which process failed it.
        public static let failedBy = "x-failed-by"
        /// How many times an operator sent the message back (integer).
        public static let replayCount = "x-replay-count"
        /// When it was last sent back (ISO 8601).
        public static let replayedAt = "x-replayed-at"

        /// What a worker writes about one failure; a replay drops them (the
        /// next failure, if any, writes fresh ones).
        public static let failure: Set<String> = [reason, message, failedAt, originalQueue, failedBy]

        /// Headers RabbitMQ adds when it dead-letters; copying them into a new
        /// publish can make RabbitMQ 3.10 drop the message as a dead-letter cycle.
        public static let brokerDeadLetter: Set<String> = [
            death, "x-first-death-exchange", "x-first-death-queue", "x-first-death-reason",
            "x-last-death-exchange", "x-last-death-queue", "x-last-death-reason", deliveryCount,
        ]
        /// The broker's record of each dead-lettering (an array of tables).
        public static let death = "x-death"
        /// How often a quorum queue delivered the message (RabbitMQ counts, not the worker).
        public static let deliveryCount = "x-delivery-count"
    }

    /// `x-retry-count` (0 when absent).
    public var retryCount: Int
    public var reason: String?
    public var message: String?
    public var failedAt: Date?
    public var originalQueue: String?
    public var failedBy: String?
    /// `x-replay-count` (0 when absent).
    public var replayCount: Int

    /// Reads the failure headers of a message (absent ones are nil or 0).
    public init(_ headers: AMQPTable) {
        retryCount = Self.count(headers[Name.retryCount])
        reason = headers[Name.reason]?.stringValue
        message = headers[Name.message]?.stringValue
        failedAt = headers[Name.failedAt]?.stringValue.flatMap(MessageCoding.parseDate)
        originalQueue = headers[Name.originalQueue]?.stringValue
        failedBy = headers[Name.failedBy]?.stringValue
        replayCount = Self.count(headers[Name.replayCount])
    }

    /// The message's `x-retry-count` alone: all a worker needs to route a failure.
    public static func retryCount(of properties: AMQPProperties) -> Int {
        count(properties.headers[Name.retryCount])
    }

    /// A count header, whatever integer type (or digits) it was written with.
    private static func count(_ value: AMQPValue?) -> Int {
        guard let value else { return 0 }
        return max(0, value.intValue ?? value.stringValue.flatMap { Int($0) } ?? 0)
    }

    // MARK: Copies

    /// The properties of the copy of a failed message that goes to a retry
    /// queue or a DLQ: the same properties (message id, correlation id, type),
    /// persistent, with the retry state and the reason in headers, and without
    /// the broker's own dead-letter headers.
    public static func failureCopy(
        of properties: AMQPProperties, retryCount: Int, reason: String, message: String, originalQueue: String, failedBy: String,
        now: Date = Date()
    ) -> AMQPProperties {
        var copy = properties
        var headers = properties.headers.filter { !Name.brokerDeadLetter.contains($0.key) }
        headers[Name.retryCount] = .int64(Int64(retryCount))
        headers[Name.reason] = .string(reason)
        headers[Name.message] = .string(String(message.prefix(1000)))
        headers[Name.failedAt] = .string(MessageCoding.formatDate(now))
        headers[Name.originalQueue] = .string(originalQueue)
        headers[Name.failedBy] = .string(failedBy)
        copy.headers = headers
        copy.deliveryMode = .persistent
        return copy
    }

    /// The properties of the copy of a dead-lettered message that goes back to
    /// work: the same properties (message id, correlation id, type, timestamp,
    /// …), `x-retry-count` 0 so it gets every retry again, without the failure
    /// headers and without the broker's dead-letter headers, and with
    /// `x-replay-count` + 1 and `x-replayed-at`.
    public static func replayCopy(of properties: AMQPProperties, now: Date = Date()) -> AMQPProperties {
        var copy = properties
        var headers = properties.headers.filter { !Name.brokerDeadLetter.contains($0.key) && !Name.failure.contains($0.key) }
        let replays = count(headers[Name.replayCount])
        headers[Name.retryCount] = .int64(0)
        headers[Name.replayCount] = .int64(Int64(replays + 1))
        headers[Name.replayedAt] = .string(MessageCoding.formatDate(now))
        copy.headers = headers
        return copy
    }

    /// The properties of the copy of a dead-lettered message moved to another
    /// queue: everything kept, except that what only the broker knew (`known`,
    /// from its `x-death`) is written into the failure headers a message lacks,
    /// and the broker's dead-letter headers are stripped, so a later replay
    /// still knows where the message came from.
    public static func movedCopy(of properties: AMQPProperties, filling known: FailureHeaders) -> AMQPProperties {
        var copy = properties
        var headers = properties.headers
        func fill(_ name: String, _ value: String?) {
            if headers[name] == nil, let value { headers[name] = .string(value) }
        }
        fill(Name.reason, known.reason)
        fill(Name.originalQueue, known.originalQueue)
        fill(Name.failedAt, known.failedAt.map(MessageCoding.formatDate))
        fill(Name.failedBy, known.failedBy)
        copy.headers = headers.filter { !Name.brokerDeadLetter.contains($0.key) }
        return copy
    }
}
