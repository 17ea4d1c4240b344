import Foundation
import OrderCore
import Postgres

/// One row of the operators' audit log (`audit_log`, migrations/0007).
public struct AuditEntry: Sendable, Hashable {
    /// `console:<name> (<address>)` for order-console, `<user> (orderctl)` for orderctl.
    public let who: String
    /// `dlq.replay`, `dlq.move`, `dlq.purge`, or a refused console attempt (`console.…-refused`).
    public let action: String
    /// Which messages: the queues and the filter.
    public let target: String
    /// How many messages the action changed (0 for a refusal).
    public let count: Int
    public let detail: String?
    /// Set by the database when the row is appended.
    public let at: Date?

    public init(who: String, action: String, target: String, count: Int, detail: String? = nil, at: Date? = nil) {
        self.who = who
        self.action = action
        self.target = target
        self.count = max(0, count)
        self.detail = detail
        self.at = at
    }

    /// The audit row of a replay, move or purge that changed something; nil for a dry run or when nothing was changed.
    public static func of(_ result: TransferResult, who: String, queues: [String]) -> AuditEntry? {
        guard !result.dryRun, result.transferred > 0 else { return nil }
        return AuditEntry(
            who: who, action: "dlq.\(result.action.rawValue)", target: "\(queues.joined(separator: ",")): \(result.filter.description)",
            count: result.transferred, detail: result.summary)
    }

    /// Who runs orderctl: the user behind sudo, else the login user.
    public static func orderctlUser(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        let user = [environment["SUDO_USER"], environment["USER"], environment["LOGNAME"]].compactMap { $0 }.first { !$0.isEmpty }
        return "\(user ?? "unknown") (orderctl)"
    }
}

/// The audit log in ordersdb: appended to by every action that changes dead
/// letters, read by `orderctl audit`.
public enum AuditLog {
    public static func append(_ entry: AuditEntry, on connection: PostgresConnection) throws {
        try connection.query(
            "INSERT INTO audit_log (who, action, target, count, detail) VALUES ($1, $2, $3, $4, $5)",
            [entry.who, entry.action, entry.target, entry.count, entry.detail])
    }

    /// The most recent `limit` rows at or after `since`, oldest first.
    public static func entries(since: Date?, limit: Int, on connection: PostgresConnection) throws -> [AuditEntry] {
        try connection.query(
            """
            SELECT who, action, target, count, detail, at FROM (
                SELECT * FROM audit_log WHERE $1::timestamptz IS NULL OR at >= $1 ORDER BY at DESC, id DESC LIMIT $2
            ) recent ORDER BY at, id
            """, [since, max(0, limit)]
        ).rows.map {
            AuditEntry(
                who: try $0.decode(0), action: try $0.decode(1), target: try $0.decode(2), count: try $0.decode(3),
                detail: try $0.decode(4, as: String?.self), at: try $0.decode(5, as: Date?.self))
        }
    }
}

/// `orderctl audit`: the audit log, appended to by order-console's actions and by `orderctl dlq replay/move/purge`.
public struct AuditAdmin: Sendable {
    public let databaseURL: String

    public init(databaseURL: String) {
        self.databaseURL = databaseURL
    }

    public func list(since: Date?, limit: Int) throws -> AuditReport {
        let connection = try DatabaseAdmin.connect(databaseURL, name: "ordersdb")
        defer { connection.close() }
        do {
            return AuditReport(entries: try AuditLog.entries(since: since, limit: limit, on: connection))
        } catch let error as PostgresError where error.kind == .connection {
            throw AdminError("lost the connection to ordersdb while reading the audit log: \(error)", exitCode: ExitStatus.databaseUnavailable)
        }
    }

    /// Appends `entry`; what went wrong, for the command to warn about, since the action it records is already done.
    public func append(_ entry: AuditEntry) -> String? {
        do {
            let connection = try DatabaseAdmin.connect(databaseURL, name: "ordersdb")
            defer { connection.close() }
            try AuditLog.append(entry, on: connection)
            return nil
        } catch {
            return "the audit log did not record this \(entry.action) (\(entry.count) messages): \(error)"
        }
    }
}

/// What `orderctl audit` prints.
public struct AuditReport: Renderable {
    public let entries: [AuditEntry]

    public func render(_ format: OutputFormat) -> String {
        switch format {
        case .table:
            Report(
                columns: ["at", "who", "action", "count", "target", "detail"],
                rows: entries.map { [$0.at.map(MessageCoding.formatDate) ?? "-", $0.who, $0.action, "\($0.count)", $0.target, $0.detail ?? "-"] }
            ).render(.table)
        case .json:
            JSONValue.array(entries.map {
                .object([
                    "at": .optional($0.at.map(MessageCoding.formatDate)), "who": .string($0.who), "action": .string($0.action),
                    "target": .string($0.target), "count": .integer(Int64($0.count)), "detail": .optional($0.detail),
                ])
            }).json()
        }
    }
}
