import Admin

/// Which dead letters a console page or action is about: a group (a DLQ, a
/// failure reason, or both), one message (its DLQ and message id), or what a
/// search finds. Absent fields select everything.
struct DeadLetterSelection: Sendable, Hashable {
    var queue: String?
    var reason: String?
    var messageID: String?
    var search: String?

    init(queue: String? = nil, reason: String? = nil, messageID: String? = nil, search: String? = nil) {
        self.queue = queue
        self.reason = reason
        self.messageID = messageID
        self.search = search
    }

    init(_ value: (String) -> String?) {
        self.init(queue: value("queue"), reason: value("reason"), messageID: value("id"), search: value("q"))
    }

    var queues: [String] { queue.map { [$0] } ?? [] }

    var filter: DeadLetterFilter {
        DeadLetterFilter(reasons: Set(reason.map { [$0] } ?? []), messageIDs: Set(messageID.map { [$0] } ?? []), containing: search)
    }

    var fields: [(String, String)] {
        [("queue", queue), ("reason", reason), ("id", messageID), ("q", search)].compactMap { name, value in value.map { (name, $0) } }
    }

    var queryString: String { fields.map { "\($0.0)=\(HTML.query($0.1))" }.joined(separator: "&") }

    /// In words, for headings and the audit log's target.
    var description: String {
        var parts: [String] = []
        parts.append(queue.map { "queue \($0)" } ?? "every dead-letter queue")
        if let reason { parts.append("reason \(reason)") }
        if let messageID { parts.append("message \(messageID)") }
        if let search { parts.append("containing \"\(search)\"") }
        return parts.joined(separator: ", ")
    }
}
