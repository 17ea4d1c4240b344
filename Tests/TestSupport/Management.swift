import Foundation

/// The broker's own view, from the management API. Its figures are refreshed
/// every few seconds, so the waits poll until a figure settles; counters only
/// grow, so a stale reading can delay a wait on them but never satisfy it early.
public enum Management {
    /// A queue's messages and how many of its deliveries were settled.
    public struct QueueFigures: Sendable, Equatable, CustomStringConvertible {
        public var ready: Int
        public var unacknowledged: Int
        /// Deliveries acked by consumers or taken with automatic ack, since the queue was declared.
        public var acknowledged: Int

        public var description: String { "ready \(ready), unacked \(unacknowledged), acked \(acknowledged)" }
    }

    /// Ready plus unacknowledged messages in `queue`; nil before the management API has figures for it.
    public static func messages(in queue: String) throws -> Int? {
        try object(at: queuePath(queue))?["messages"] as? Int
    }

    public static func waitForMessages(in queue: String, toBe expected: Int, timeout: Duration = .seconds(30)) async throws -> Int? {
        let deadline = ContinuousClock.now + timeout
        var seen = try messages(in: queue)
        while seen != expected, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(500))
            seen = try messages(in: queue)
        }
        return seen
    }

    /// nil before the management API has message figures for the queue.
    public static func figures(of queue: String) throws -> QueueFigures? {
        guard let object = try object(at: queuePath(queue)),
            let ready = object["messages_ready"] as? Int, let unacknowledged = object["messages_unacknowledged"] as? Int
        else { return nil }
        let stats = object["message_stats"] as? [String: Any] ?? [:]
        let acknowledged = ["ack", "get_no_ack", "deliver_no_ack"].reduce(0) { $0 + (stats[$1] as? Int ?? 0) }
        return QueueFigures(ready: ready, unacknowledged: unacknowledged, acknowledged: acknowledged)
    }

    /// Polls `queue`'s figures until `done` holds or `timeout` passes; returns the last figures seen.
    public static func waitForFigures(
        of queue: String, timeout: Duration = .seconds(30), until done: (QueueFigures) -> Bool
    ) async throws -> QueueFigures? {
        let deadline = ContinuousClock.now + timeout
        var seen = try figures(of: queue)
        while seen.map(done) != true, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(500))
            seen = try figures(of: queue)
        }
        return seen
    }

    /// The heartbeat interval (seconds) the broker agreed with the open connection named
    /// `connectionName` (AMQPConfiguration.connectionName); nil while the API does not list it.
    public static func negotiatedHeartbeat(ofConnectionNamed connectionName: String) throws -> Int? {
        guard let connections = try json(at: "connections") as? [[String: Any]] else { return nil }
        let connection = connections.first { ($0["client_properties"] as? [String: Any])?["connection_name"] as? String == connectionName }
        return connection?["timeout"] as? Int
    }

    private static func queuePath(_ queue: String) -> String {
        "queues/%2F/" + (queue.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? queue)
    }

    private static func object(at path: String) throws -> [String: Any]? {
        try json(at: path) as? [String: Any]
    }

    /// GET /api/`path`; nil when the API answers with an error (an unknown queue, say).
    private static func json(at path: String) throws -> Any? {
        guard let base = URL(string: TestEnvironment.managementURL), let user = base.user, let password = base.password,
            let host = base.host
        else { throw ChildProcessError(message: "RABBITMQ_MANAGEMENT_URL must look like http://user:password@host:port") }
        let url = "\(base.scheme ?? "http")://\(host):\(base.port ?? 15672)/api/\(path)"
        let output = try Command.run("/usr/bin/curl", ["-s", "-f", "-u", "\(user):\(password)", url])
        guard output.status == 0 else { return nil }
        return try JSONSerialization.jsonObject(with: Data(output.stdout.utf8))
    }
}
