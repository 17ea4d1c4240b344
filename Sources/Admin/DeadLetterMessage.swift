import AMQP
import Foundation
import Messaging
import OrderCore
import TextCodecs

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
        headers[FailureHeaders.Name.death]?.arrayValue?.compactMap(\.tableValue).map(DeathRecord.init) ?? []
    }

    var json: JSONValue {
        .object([
            "queue": .optional(queue), "reason": .optional(reason), "count": .optional(count),
            "time": .optional(time.map(MessageCoding.formatDate)), "exchange": .optional(exchange),
            "routingKeys": .array(routingKeys.map(JSONValue.string)), "originalExpiration": .optional(originalExpiration),
        ])
    }

    /// `queue=… reason=… count=… time=…`, one line.
    public var summary: String {
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
/// `FailureHeaders`), and messages the broker dead-lettered itself when a main
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
        let written = FailureHeaders(headers)
        deaths = DeathRecord.records(in: headers)
        let latest = deaths.first
        deadLetteredByBroker = written.reason == nil && latest != nil
        reason = written.reason ?? latest?.reason ?? Self.unknownReason
        errorMessage = written.message
        retryCount = written.retryCount
        originalQueue = written.originalQueue ?? latest?.queue
        failedAt = written.failedAt ?? latest?.time
        failedBy = written.failedBy
    }

    /// The properties of its copy for `dlq move` (`FailureHeaders.movedCopy`):
    /// what only `x-death` said (reason, original queue, time; "rabbitmq" as
    /// the one that failed it) is written into the failure headers.
    public var movedProperties: AMQPProperties {
        var known = FailureHeaders([:])
        known.reason = reason == Self.unknownReason ? nil : reason
        known.originalQueue = originalQueue
        known.failedAt = failedAt
        known.failedBy = deadLetteredByBroker ? "rabbitmq" : nil
        return FailureHeaders.movedCopy(of: delivery.properties, filling: known)
    }

    public var messageID: String? { delivery.properties.messageID }

    /// The stock movements a vendor_sync message carries: its one movement, or
    /// every decodable entry of a batch; empty for any other message.
    public var movements: [VendorMovement] {
        guard let type = delivery.properties.type, type.hasPrefix("vendor.") else { return [] }
        return (try? VendorMovementBatch.decode(delivery.body))?.entries.map(\.movement) ?? []
    }

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
    /// Any of these message ids, or of the movement ids inside a vendor_sync batch (empty: any).
    public var messageIDs: Set<String>
    /// Only messages whose body, message id or correlation id contains this text, ignoring case:
    /// an order id, a product id or a vendor id finds the messages about it.
    public var containing: String?

    public init(reasons: Set<String> = [], olderThan: TimeInterval? = nil, messageIDs: Set<String> = [], containing: String? = nil) {
        self.reasons = reasons
        self.olderThan = olderThan
        self.messageIDs = messageIDs
        self.containing = containing.flatMap { $0.isEmpty ? nil : $0 }
    }

    public static let all = DeadLetterFilter()

    public func matches(_ message: DeadLetterMessage, now: Date) -> Bool {
        if !reasons.isEmpty, !reasons.contains(message.reason) { return false }
        if !messageIDs.isEmpty, !messageIDs.contains(message.messageID ?? "") {
            let ids = Set(messageIDs.map { $0.lowercased() })
            guard message.movements.contains(where: { ids.contains(UUIDText.string($0.movementId)) }) else { return false }
        }
        if let olderThan {
            guard let age = message.age(at: now), age >= olderThan else { return false }
        }
        if let containing {
            let properties = message.delivery.properties
            let fields = [properties.messageID, properties.correlationID, String(decoding: message.delivery.body, as: UTF8.self)]
            guard fields.contains(where: { $0?.range(of: containing, options: .caseInsensitive) != nil }) else { return false }
        }
        return true
    }

    /// What a replay, move or export says when this filter was given and matched no message read; nil otherwise.
    func matchedNothing(transferred: Int, verbPast: String) -> String? {
        guard self != .all, transferred == 0 else { return nil }
        return "no message matched the filters (\(description)): nothing was \(verbPast)"
    }

    var description: String {
        var parts: [String] = []
        if !reasons.isEmpty { parts.append("reason " + reasons.sorted().joined(separator: "|")) }
        if let olderThan { parts.append("older than \(DurationText.format(olderThan))") }
        if !messageIDs.isEmpty { parts.append("message id " + messageIDs.sorted().joined(separator: "|")) }
        if let containing { parts.append("containing \"\(containing)\"") }
        return parts.isEmpty ? "every message" : parts.joined(separator: ", ")
    }
}
