import AMQP
import Foundation
import Messaging
import OrderCore

/// One entry of RabbitMQ's `x-death` header: the broker's record of one
/// (queue, reason) dead-lettering, most recent first.
public struct DeathRecord: Sendable, Hashable {
    public var queue: String?
    /// `rejected`, `expired`, `maxlen` or `delivery_limit`.
    public var reason: String?
    /// How many times the message was dead-lettered from this queue for this reason.
    public var count: Int?
    public var time: Date?
    public var exchange: String?
    public var routingKeys: [String]
    public var originalExpiration: String?

    public init(_ table: AMQPTable) {
        queue = table["queue"]?.stringValue
        reason = table["reason"]?.stringValue
        count = table["count"]?.intValue
        if case .timestamp(let seconds)? = table["time"] { time = Date(timeIntervalSince1970: TimeInterval(seconds)) }
        exchange = table["exchange"]?.stringValue
        routingKeys = table["routing-keys"]?.arrayValue?.compactMap(\.stringValue) ?? []
        originalExpiration = table["original-expiration"]?.stringValue
    }

    /// The records of a message's `x-death` header, most recent first (the broker's order).
    public static func records(in headers: AMQPTable) -> [DeathRecord] {
        headers["x-death"]?.arrayValue?.compactMap(\.tableValue).map(DeathRecord.init) ?? []
    }

    var json: JSONValue {
        .object([
            "queue": .optional(queue), "reason": .optional(reason), "count": .optional(count),
            "time": .optional(time.map(MessageCoding.formatDate)), "exchange": .optional(exchange),
            "routingKeys": .array(routingKeys.map(JSONValue.string)), "originalExpiration": .optional(originalExpiration),
        ])
    }

    var summary: String {
        var parts = ["queue=\(queue ?? "?")", "reason=\(reason ?? "?")", "count=\(count.map(String.init) ?? "?")"]
        if let time { parts.append("time=\(MessageCoding.formatDate(time))") }
        if let exchange { parts.append("exchange=\"\(exchange)\"") }
        if !routingKeys.isEmpty { parts.append("routing-keys=\(routingKeys.joined(separator: ","))") }
        if let originalExpiration { parts.append("original-expiration=\(originalExpiration)") }
        return parts.joined(separator: " ")
    }
}

/// A message taken from a DLQ, with what went wrong decoded from its headers.
///
/// Two kinds of messages end up in a DLQ: copies the workers published
/// (`x-error-reason`, `x-original-queue`, `x-retry-count`, … see
/// `FailureHeader`), and messages the broker dead-lettered itself when a main
/// queue's `x-delivery-limit` was reached, which carry only `x-death`. Both
/// decode to the same view; the worker's headers win where both are present.
public struct DeadLetterMessage: Sendable {
    /// The reason shown when a message says nothing about why it failed.
    public static let unknownReason = "unknown"

    /// The queue the message was read from.
    public let queue: String
    public let delivery: AMQPDelivery
    /// `x-error-reason`, else `x-death[0].reason`, else "unknown".
    public let reason: String
    public let errorMessage: String?
    /// `x-retry-count` (0 when absent).
    public let retryCount: Int
    /// Where the message was being processed: `x-original-queue`, else `x-death[0].queue`.
    public let originalQueue: String?
    /// `x-failed-at`, else `x-death[0].time`.
    public let failedAt: Date?
    public let failedBy: String?
    public let deaths: [DeathRecord]
    /// True when only the broker's `x-death` says why the message is here.
    public let deadLetteredByBroker: Bool

    public init(queue: String, delivery: AMQPDelivery) {
        self.queue = queue
        self.delivery = delivery
        let headers = delivery.properties.headers
        deaths = DeathRecord.records(in: headers)
        let latest = deaths.first
        let workerReason = headers[FailureHeader.reason]?.stringValue
        deadLetteredByBroker = workerReason == nil && latest != nil
        reason = workerReason ?? latest?.reason ?? Self.unknownReason
        errorMessage = headers[FailureHeader.message]?.stringValue
        retryCount = FailureCopy.retryCount(of: delivery.properties)
        originalQueue = headers[FailureHeader.originalQueue]?.stringValue ?? latest?.queue
        failedAt = headers[FailureHeader.failedAt]?.stringValue.flatMap(MessageCoding.parseDate) ?? latest?.time
        failedBy = headers[FailureHeader.failedBy]?.stringValue
    }

    public var messageID: String? { delivery.properties.messageID }

    /// How long the message has been dead: since it failed, else since it was published; nil when neither is known.
    public func age(at now: Date) -> TimeInterval? {
        guard let since = failedAt ?? delivery.properties.timestamp else { return nil }
        return max(0, now.timeIntervalSince(since))
    }
}

/// Which messages a replay, move or export takes. Non-matching messages are put back.
public struct DeadLetterFilter: Sendable, Hashable {
    /// Any of these reasons (empty: any reason).
    public var reasons: Set<String>
    /// Only messages dead at least this long (by `x-failed-at`, else `x-death` time, else the message timestamp).
    public var olderThan: TimeInterval?
    /// Any of these message ids (empty: any).
    public var messageIDs: Set<String>

    public init(reasons: Set<String> = [], olderThan: TimeInterval? = nil, messageIDs: Set<String> = []) {
        self.reasons = reasons
        self.olderThan = olderThan
        self.messageIDs = messageIDs
    }

    public static let all = DeadLetterFilter()

    public func matches(_ message: DeadLetterMessage, now: Date) -> Bool {
        if !reasons.isEmpty, !reasons.contains(message.reason) { return false }
        if !messageIDs.isEmpty, !messageIDs.contains(message.messageID ?? "") { return false }
        if let olderThan {
            guard let age = message.age(at: now), age >= olderThan else { return false }
        }
        return true
    }

    var description: String {
        var parts: [String] = []
        if !reasons.isEmpty { parts.append("reason " + reasons.sorted().joined(separator: "|")) }
        if let olderThan { parts.append("older than \(DurationText.format(olderThan))") }
        if !messageIDs.isEmpty { parts.append("message id " + messageIDs.sorted().joined(separator: "|")) }
        return parts.isEmpty ? "every message" : parts.joined(separator: ", ")
    }
}

extension FailureCopy {
    /// Counts how many times an operator sent the message back (integer).
    public static let replayCountHeader = "x-replay-count"
    /// When it was last sent back (ISO 8601).
    public static let replayedAtHeader = "x-replayed-at"

    /// The headers a worker writes about a failure; a replay drops them
    /// (the next failure, if any, writes fresh ones).
    public static let workerFailureHeaders: Set<String> = [
        FailureHeader.reason, FailureHeader.message, FailureHeader.failedAt, FailureHeader.originalQueue, FailureHeader.failedBy,
    ]

    /// The copy of a dead-lettered message that goes back to work: the same
    /// body and properties (message id, correlation id, type, timestamp, …),
    /// `x-retry-count` 0 so it gets every retry again, without the failure
    /// headers and without the broker's dead-letter headers (a copied
    /// `x-death` can make RabbitMQ 3.10 drop the message as a cycle), and
    /// with `x-replay-count` + 1 and `x-replayed-at`.
    public static func replayProperties(of properties: AMQPProperties, now: Date = Date()) -> AMQPProperties {
        var copy = properties
        var headers = properties.headers.filter {
            !FailureHeader.brokerDeadLetterHeaders.contains($0.key) && !workerFailureHeaders.contains($0.key)
        }
        let replays = headers[replayCountHeader]?.intValue ?? 0
        headers[FailureHeader.retryCount] = .int64(0)
        headers[replayCountHeader] = .int64(Int64(replays + 1))
        headers[replayedAtHeader] = .string(MessageCoding.formatDate(now))
        copy.headers = headers
        return copy
    }

    /// The copy of a dead-lettered message moved to another queue: everything
    /// kept, except that what only the broker's `x-death` said (reason,
    /// original queue, time) is written into the worker's headers before the
    /// broker's dead-letter headers are stripped, so a later replay still
    /// knows where the message came from.
    public static func movedProperties(of message: DeadLetterMessage) -> AMQPProperties {
        var copy = message.delivery.properties
        var headers = copy.headers
        if headers[FailureHeader.reason] == nil, message.reason != DeadLetterMessage.unknownReason {
            headers[FailureHeader.reason] = .string(message.reason)
        }
        if headers[FailureHeader.originalQueue] == nil, let queue = message.originalQueue {
            headers[FailureHeader.originalQueue] = .string(queue)
        }
        if headers[FailureHeader.failedAt] == nil, let failedAt = message.failedAt {
            headers[FailureHeader.failedAt] = .string(MessageCoding.formatDate(failedAt))
        }
        if message.deadLetteredByBroker, headers[FailureHeader.failedBy] == nil {
            headers[FailureHeader.failedBy] = .string("rabbitmq")
        }
        copy.headers = headers.filter { !FailureHeader.brokerDeadLetterHeaders.contains($0.key) }
        return copy
    }
}
