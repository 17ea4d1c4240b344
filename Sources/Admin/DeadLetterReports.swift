import AMQP
import Foundation
import Messaging
import OrderCore
import TextCodecs

// What the `dlq` commands return: structured results (tests check these)
// that render as text for a person or JSON for a script.

private func notesText(_ notes: [String]) -> String {
    notes.isEmpty ? "" : "\n\n" + notes.map { "Note: \($0)" }.joined(separator: "\n")
}

private func reasonsText(_ reasons: [String: Int]) -> String {
    reasons.isEmpty ? "-" : reasons.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
}

/// `dlq list`.
public struct DeadLetterListing: Renderable {
    public struct Queue: Sendable, Hashable {
        public let queue: String
        /// The broker's count.
        public let depth: Int
        /// How many were read to compute the ages and reasons.
        public let scanned: Int
        public let oldestAge: TimeInterval?
        public let reasons: [String: Int]
        /// The vendor stock movements the scanned messages carry (a vendor_sync batch counts each of its own).
        public let movements: Int

        public var truncated: Bool { scanned < depth }
    }

    public let queues: [Queue]
    public let scanLimit: Int

    public var notes: [String] {
        var notes = [DeadLetterAdmin.readingNote]
        for queue in queues where queue.truncated {
            notes.append("\(queue.queue): ages and reasons cover the first \(queue.scanned) of \(queue.depth) messages (--scan-limit \(scanLimit)).")
        }
        return notes
    }

    public func render(_ format: OutputFormat) -> String {
        switch format {
        case .table:
            let report = Report(
                columns: ["queue", "depth", "scanned", "movements", "oldest", "reasons"],
                rows: queues.map {
                    [$0.queue, "\($0.depth)", "\($0.scanned)", "\($0.movements)", $0.oldestAge.map(DurationText.format) ?? "-", reasonsText($0.reasons)]
                })
            return report.render(.table) + notesText(notes)
        case .json:
            return JSONValue.object([
                "queues": .array(queues.map { queue in
                    .object([
                        "queue": .string(queue.queue), "depth": .integer(Int64(queue.depth)), "scanned": .integer(Int64(queue.scanned)),
                        "truncated": .bool(queue.truncated), "movements": .integer(Int64(queue.movements)), "oldestAgeSeconds": queue.oldestAge.map { .integer(Int64($0)) } ?? .null,
                        "reasons": .object(queue.reasons.mapValues { .integer(Int64($0)) }),
                    ])
                }),
                "notes": .array(notes.map(JSONValue.string)),
            ]).json()
        }
    }
}

/// `dlq stats`.
public struct DeadLetterStats: Renderable {
    public struct Group: Sendable, Hashable {
        public let key: String
        public let count: Int
        public let oldestAge: TimeInterval?
    }

    public struct Queue: Sendable, Hashable {
        public let queue: String
        public let depth: Int
        public let scanned: Int
    }

    public let grouping: DeadLetterAdmin.Grouping
    public let groups: [Group]
    public let queues: [Queue]
    public let scanLimit: Int

    public var total: Int { groups.reduce(0) { $0 + $1.count } }

    static let buckets: [(label: String, upTo: TimeInterval?)] = [
        ("< 1m", 60), ("1m-10m", 600), ("10m-1h", 3600), ("1h-1d", 86400), ("> 1d", nil),
    ]
    static let unknownAge = "unknown"

    /// The label of the bucket `age` falls in (`unknownAge` without one).
    static func ageBucket(_ age: TimeInterval?) -> String {
        guard let age else { return unknownAge }
        return buckets.first { $0.upTo.map { age < $0 } ?? true }!.label
    }

    static func bucketOrder(_ label: String) -> Int { buckets.firstIndex { $0.label == label } ?? buckets.count }

    public var notes: [String] {
        var notes = [DeadLetterAdmin.readingNote]
        for queue in queues where queue.scanned < queue.depth {
            notes.append("\(queue.queue): counted the first \(queue.scanned) of \(queue.depth) messages (--scan-limit \(scanLimit)).")
        }
        return notes
    }

    public func render(_ format: OutputFormat) -> String {
        switch format {
        case .table:
            let rows = groups.map { [$0.key, "\($0.count)", $0.oldestAge.map(DurationText.format) ?? "-"] } + [["total", "\(total)", ""]]
            return Report(columns: [grouping.rawValue, "count", "oldest"], rows: rows).render(.table) + notesText(notes)
        case .json:
            return JSONValue.object([
                "groupBy": .string(grouping.rawValue),
                "groups": .array(groups.map {
                    .object(["key": .string($0.key), "count": .integer(Int64($0.count)), "oldestAgeSeconds": $0.oldestAge.map { .integer(Int64($0)) } ?? .null])
                }),
                "total": .integer(Int64(total)),
                "queues": .array(queues.map {
                    .object(["queue": .string($0.queue), "depth": .integer(Int64($0.depth)), "scanned": .integer(Int64($0.scanned))])
                }),
                "notes": .array(notes.map(JSONValue.string)),
            ]).json()
        }
    }
}

/// `dlq peek`.
public struct DeadLetterPeek: Renderable {
    public struct Queue: Sendable {
        public let queue: String
        public let depth: Int
        public let messages: [DeadLetterMessage]
    }

    public let queues: [Queue]
    public let now: Date

    public var notes: [String] {
        [DeadLetterAdmin.readingNote + " The messages shown were put back."]
    }

    public func render(_ format: OutputFormat) -> String {
        switch format {
        case .table:
            var out: [String] = []
            for queue in queues {
                out.append("== \(queue.queue): showing \(queue.messages.count) of \(queue.depth) message\(queue.depth == 1 ? "" : "s")")
                for (index, message) in queue.messages.enumerated() {
                    out.append("")
                    out.append("-- message \(index + 1) of \(queue.depth)")
                    out.append(Self.text(message, now: now))
                }
                out.append("")
            }
            return out.joined(separator: "\n") + notesText(notes).dropFirst()
        case .json:
            return JSONValue.object([
                "queues": .array(queues.map { queue in
                    .object([
                        "queue": .string(queue.queue), "depth": .integer(Int64(queue.depth)),
                        "messages": .array(queue.messages.map { Self.json($0, now: now) }),
                    ])
                }),
                "notes": .array(notes.map(JSONValue.string)),
            ]).json()
        }
    }

    // MARK: One message

    static func text(_ message: DeadLetterMessage, now: Date) -> String {
        let d = message.delivery
        let p = d.properties
        var lines: [String] = []
        func field(_ name: String, _ value: String?) { if let value { lines.append("  \(name): \(value)") } }
        lines.append("failure:")
        field("reason", message.reason + (message.deadLetteredByBroker ? " (dead-lettered by the broker)" : ""))
        field("error", message.errorMessage)
        field("retries", "\(message.retryCount)")
        field("original queue", message.originalQueue)
        field("failed at", message.failedAt.map { MessageCoding.formatDate($0) + " (" + DurationText.format(now.timeIntervalSince($0)) + " ago)" })
        field("failed by", message.failedBy)
        lines.append("delivery:")
        field("exchange", "\"\(d.exchange)\"")
        field("routing key", d.routingKey)
        field("redelivered", "\(d.redelivered)")
        lines.append("properties:")
        field("content_type", p.contentType)
        field("content_encoding", p.contentEncoding)
        field("delivery_mode", p.deliveryMode.map { "\($0.rawValue) (\($0 == .persistent ? "persistent" : "transient"))" })
        field("priority", p.priority.map { "\($0)" })
        field("correlation_id", p.correlationID)
        field("reply_to", p.replyTo)
        field("expiration", p.expiration)
        field("message_id", p.messageID)
        field("timestamp", p.timestamp.map { "\(Int64($0.timeIntervalSince1970)) (\(MessageCoding.formatDate($0)))" })
        field("type", p.type)
        field("user_id", p.userID)
        field("app_id", p.appID)
        lines.append("headers:")
        if p.headers.isEmpty { lines.append("  (none)") }
        for key in p.headers.keys.sorted() where key != FailureHeaders.Name.death {
            let value = p.headers[key]!
            lines.append("  \(key): \(value) (\(TypedValue.typeName(value)))")
        }
        if !message.deaths.isEmpty {
            lines.append("  x-death: (decoded, most recent first)")
            for (index, death) in message.deaths.enumerated() { lines.append("    \(index + 1). \(death.summary)") }
        }
        let movements = message.movements
        if movements.count > 1 {
            lines.append("movements: \(movements.count)")
            for (index, movement) in movements.enumerated() {
                lines.append(
                    "  \(index + 1). vendor=\(movement.vendorId) kind=\(movement.kind.rawValue) order=\(UUIDText.string(movement.orderId)) "
                        + "product=\(movement.productId) quantity=\(movement.quantity) movement=\(UUIDText.string(movement.movementId))")
            }
        }
        let body = Body(d.body, contentType: p.contentType)
        lines.append("body: \(d.body.count) bytes, \(body.kind)")
        lines.append(body.text.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n"))
        return lines.joined(separator: "\n")
    }

    static func json(_ message: DeadLetterMessage, now: Date) -> JSONValue {
        let d = message.delivery
        let p = d.properties
        let body = Body(d.body, contentType: p.contentType)
        let headers = p.headers.mapValues { TypedValue($0).json }
        return .object([
            "failure": .object([
                "reason": .string(message.reason), "errorMessage": .optional(message.errorMessage), "retryCount": .integer(Int64(message.retryCount)),
                "originalQueue": .optional(message.originalQueue), "failedAt": .optional(message.failedAt.map(MessageCoding.formatDate)),
                "failedBy": .optional(message.failedBy), "ageSeconds": message.age(at: now).map { .integer(Int64($0)) } ?? .null,
                "deadLetteredByBroker": .bool(message.deadLetteredByBroker),
            ]),
            "exchange": .string(d.exchange), "routingKey": .string(d.routingKey), "redelivered": .bool(d.redelivered),
            "properties": .object([
                "contentType": .optional(p.contentType), "contentEncoding": .optional(p.contentEncoding),
                "deliveryMode": p.deliveryMode.map { .integer(Int64($0.rawValue)) } ?? .null, "priority": p.priority.map { .integer(Int64($0)) } ?? .null,
                "correlationId": .optional(p.correlationID), "replyTo": .optional(p.replyTo), "expiration": .optional(p.expiration),
                "messageId": .optional(p.messageID), "timestamp": p.timestamp.map { .integer(Int64($0.timeIntervalSince1970)) } ?? .null,
                "type": .optional(p.type), "userId": .optional(p.userID), "appId": .optional(p.appID), "headers": .object(headers),
            ]),
            "xDeath": .array(message.deaths.map(\.json)),
            "movements": .array(message.movements.map { movement in
                .object([
                    "vendorId": .string(movement.vendorId), "kind": .string(movement.kind.rawValue), "orderId": .string(UUIDText.string(movement.orderId)),
                    "productId": .string(movement.productId), "quantity": .integer(Int64(movement.quantity)),
                    "movementId": .string(UUIDText.string(movement.movementId)),
                ])
            }),
            "body": .object(["encoding": .string(body.kind), "length": .integer(Int64(d.body.count)), "value": body.json]),
        ])
    }

    /// A body shown as pretty JSON when it is JSON, as text when it is UTF-8 text, else base64.
    public struct Body: Sendable {
        /// json, text or base64.
        public let kind: String
        public let text: String
        let json: JSONValue

        public init(_ bytes: [UInt8], contentType: String?) {
            if !bytes.isEmpty, let value = try? JSONValue.parse(bytes) {
                kind = "json"
                text = value.json(pretty: true)
                json = value
            } else if let string = String(validating: bytes, as: UTF8.self),
                string.unicodeScalars.allSatisfy({ $0 == "\n" || $0 == "\r" || $0 == "\t" || ($0.value >= 0x20 && $0.value != 0x7F) })
            {
                kind = "text"
                text = bytes.isEmpty ? "(empty)" : string
                json = .string(string)
            } else {
                kind = "base64"
                text = Data(bytes).base64EncodedString(options: [.lineLength76Characters, .endLineWithLineFeed])
                json = .string(Data(bytes).base64EncodedString())
            }
        }
    }
}

/// `dlq replay` and `dlq move`.
public struct TransferResult: Renderable {
    public enum Action: String, Sendable { case replay, move, purge }

    public struct Failure: Sendable, Hashable {
        public let queue: String
        public let messageID: String?
        public let error: String
    }

    public let action: Action
    public let dryRun: Bool
    public let filter: DeadLetterFilter
    /// Published (confirmed) and removed from the DLQ; with --dry-run, would be.
    public internal(set) var transferred = 0
    /// Read but not matching the filters: put back.
    public internal(set) var skipped = 0
    /// Matching but not published (no original queue, unroutable, refused): put back.
    public internal(set) var failed = 0
    /// Published per target queue.
    public internal(set) var targets: [String: Int] = [:]
    public internal(set) var failures: [Failure] = []
    /// Per source queue: depth at the start and messages read.
    public internal(set) var sources: [(queue: String, depth: Int, scanned: Int)] = []

    var verbPast: String {
        switch action {
        case .replay: "replayed"
        case .move: "moved"
        case .purge: "purged"
        }
    }

    /// Set when filters were given and no message read matched them (orderctl exits 1).
    public var unmatchedFilter: String? {
        filter.matchedNothing(transferred: transferred + failed, verbPast: dryRun ? "done (dry run)" : verbPast)
    }

    /// The last line: counts replayed / skipped / failed.
    public var summary: String {
        if dryRun {
            return "dry run: would \(action.rawValue) \(transferred), skipped \(skipped), failed \(failed) (nothing was changed)"
        }
        return "\(verbPast) \(transferred), skipped \(skipped), failed \(failed)"
    }

    public var notes: [String] {
        var notes: [String] = []
        if let unmatchedFilter { notes.append(unmatchedFilter.prefix(1).uppercased() + unmatchedFilter.dropFirst() + ".") }
        for source in sources where source.scanned < source.depth {
            notes.append("\(source.queue): read \(source.scanned) of \(source.depth) messages (--limit or --scan-limit); the rest were not looked at.")
        }
        if dryRun {
            notes.append("Nothing was published or removed: every message read was put back (now marked redelivered).")
        } else if skipped + failed > 0 {
            notes.append("Skipped and failed messages were put back in their queue (now marked redelivered).")
        }
        return notes
    }

    public func render(_ format: OutputFormat) -> String {
        switch format {
        case .table:
            var out: [String] = []
            if !targets.isEmpty {
                out.append(Report(columns: ["target", dryRun ? "would \(action.rawValue)" : verbPast], rows: targets.keys.sorted().map { [$0, "\(targets[$0]!)"] }).render(.table))
            }
            if !failures.isEmpty {
                out.append(Report(columns: ["failed from", "message id", "error"], rows: failures.prefix(50).map { [$0.queue, $0.messageID ?? "-", $0.error] }).render(.table))
                if failures.count > 50 { out.append("(\(failures.count - 50) more failures not shown)") }
            }
            out += notes.map { "Note: \($0)" }
            out.append(summary)
            return out.joined(separator: "\n")
        case .json:
            return JSONValue.object([
                "action": .string(action.rawValue), "dryRun": .bool(dryRun), "filter": .string(filter.description),
                dryRun ? "wouldTransfer" : verbPast: .integer(Int64(transferred)), "skipped": .integer(Int64(skipped)), "failed": .integer(Int64(failed)),
                "targets": .object(targets.mapValues { .integer(Int64($0)) }),
                "failures": .array(failures.map { .object(["queue": .string($0.queue), "messageId": .optional($0.messageID), "error": .string($0.error)]) }),
                "sources": .array(sources.map { .object(["queue": .string($0.queue), "depth": .integer(Int64($0.depth)), "scanned": .integer(Int64($0.scanned))]) }),
                "notes": .array(notes.map(JSONValue.string)),
                "unmatchedFilter": .optional(unmatchedFilter),
                "summary": .string(summary),
            ]).json()
        }
    }
}

/// Progress of a replay or move, for a progress bar.
public struct TransferProgress: Sendable {
    /// Messages read so far, over every queue.
    public let scanned: Int
    /// Messages there are to read (depths at the start, bounded by --scan-limit).
    public let total: Int
    public let transferred: Int
    public let failed: Int
}

/// `dlq purge`.
public struct PurgeResult: Renderable {
    public let purged: [(queue: String, count: Int)]
    public var total: Int { purged.reduce(0) { $0 + $1.count } }

    public func render(_ format: OutputFormat) -> String {
        switch format {
        case .table:
            Report(columns: ["queue", "purged"], rows: purged.map { [$0.queue, "\($0.count)"] }).render(.table) + "\npurged \(total)"
        case .json:
            JSONValue.object([
                "queues": .array(purged.map { .object(["queue": .string($0.queue), "purged": .integer(Int64($0.count))]) }), "total": .integer(Int64(total)),
            ]).json()
        }
    }
}

/// What `dlq purge` is about to remove, for the question and `--expect-count`.
public struct PurgePlan: Sendable {
    public let queues: [(queue: String, depth: Int)]
    public var total: Int { queues.reduce(0) { $0 + $1.depth } }

    public var description: String {
        "\(total) message\(total == 1 ? "" : "s") in " + queues.map { "\($0.queue) (\($0.depth))" }.joined(separator: ", ")
    }
}

/// `dlq export`.
public struct ExportResult: Renderable {
    public let file: String
    public let exported: [(queue: String, count: Int)]
    public let removed: Bool
    public let skipped: Int
    public let sources: [(queue: String, depth: Int, scanned: Int)]
    public let filter: DeadLetterFilter
    public var total: Int { exported.reduce(0) { $0 + $1.count } }

    /// Set when filters were given and no message read matched them (orderctl exits 1).
    public var unmatchedFilter: String? { filter.matchedNothing(transferred: total, verbPast: "exported") }

    public var summary: String {
        "exported \(total) message\(total == 1 ? "" : "s") to \(file) (written and fsynced); "
            + (removed ? "removed them from the queue" : "left them in the queue (use --remove to take them out)")
            + (skipped > 0 ? "; \(skipped) not matching were left in the queue" : "")
    }

    public func render(_ format: OutputFormat) -> String {
        switch format {
        case .table:
            var out = [Report(columns: ["queue", "exported"], rows: exported.map { [$0.queue, "\($0.count)"] }).render(.table)]
            for source in sources where source.scanned < source.depth {
                out.append("Note: \(source.queue): read \(source.scanned) of \(source.depth) messages (--limit or --scan-limit).")
            }
            if let unmatchedFilter { out.append("Note: \(unmatchedFilter).") }
            out.append(summary)
            return out.joined(separator: "\n")
        case .json:
            return JSONValue.object([
                "file": .string(file), "removed": .bool(removed), "skipped": .integer(Int64(skipped)), "total": .integer(Int64(total)),
                "unmatchedFilter": .optional(unmatchedFilter),
                "queues": .array(exported.map { .object(["queue": .string($0.queue), "exported": .integer(Int64($0.count))]) }),
                "sources": .array(sources.map { .object(["queue": .string($0.queue), "depth": .integer(Int64($0.depth)), "scanned": .integer(Int64($0.scanned))]) }),
                "summary": .string(summary),
            ]).json()
        }
    }
}

/// `dlq import`.
public struct ImportResult: Renderable {
    public let file: String
    public let imported: [(queue: String, count: Int)]
    public let failures: [(line: Int, messageID: String?, error: String)]
    public let dryRun: Bool
    public var total: Int { imported.reduce(0) { $0 + $1.count } }

    public var summary: String {
        dryRun
            ? "dry run: would import \(total) message\(total == 1 ? "" : "s") from \(file) (nothing was published)"
            : "imported \(total), failed \(failures.count) from \(file)"
    }

    public func render(_ format: OutputFormat) -> String {
        switch format {
        case .table:
            var out = [Report(columns: ["queue", dryRun ? "would import" : "imported"], rows: imported.map { [$0.queue, "\($0.count)"] }).render(.table)]
            if !failures.isEmpty {
                out.append(Report(columns: ["line", "message id", "error"], rows: failures.map { ["\($0.line)", $0.messageID ?? "-", $0.error] }).render(.table))
            }
            out.append(summary)
            return out.joined(separator: "\n")
        case .json:
            return JSONValue.object([
                "file": .string(file), "dryRun": .bool(dryRun), "total": .integer(Int64(total)),
                "queues": .array(imported.map { .object(["queue": .string($0.queue), "imported": .integer(Int64($0.count))]) }),
                "failures": .array(failures.map { .object(["line": .integer(Int64($0.line)), "messageId": .optional($0.messageID), "error": .string($0.error)]) }),
                "summary": .string(summary),
            ]).json()
        }
    }
}
