import Foundation

/// The broker's own view, from the management API. Its queue figures are
/// refreshed every few seconds, so a wait polls until they settle.
public enum Management {
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

    /// The heartbeat interval (seconds) the broker agreed with the open connection named
    /// `connectionName` (AMQPConfiguration.connectionName); nil while the API does not list it.
    public static func negotiatedHeartbeat(ofConnectionNamed connectionName: String) throws -> Int? {
        guard let connections = try json(at: "connections") as? [[String: Any]] else { return nil }
        let connection = connections.first { ($0["client_properties"] as? [String: Any])?["connection_name"] as? String == connectionName }
        return connection?["timeout"] as? Int
    }

    static func queuePath(_ queue: String) -> String {
        "queues/%2F/" + (queue.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? queue)
    }

    private static func object(at path: String) throws -> [String: Any]? {
        try json(at: path) as? [String: Any]
    }

    /// GET /api/`path` of the API at `managementURL`; nil when the API answers with
    /// an error (an unknown queue, say) or, within `timeout`, not at all (a killed node).
    static func json(at path: String, managementURL: String = TestEnvironment.managementURL, timeout: Int = 10) throws -> Any? {
        guard let base = URL(string: managementURL), let user = base.user, let password = base.password,
            let host = base.host
        else { throw ChildProcessError(message: "RABBITMQ_MANAGEMENT_URL must look like http://user:password@host:port") }
        let url = "\(base.scheme ?? "http")://\(host):\(base.port ?? 15672)/api/\(path)"
        let output = try Command.run("/usr/bin/curl", ["-s", "-f", "-m", "\(timeout)", "-u", "\(user):\(password)", url])
        guard output.status == 0 else { return nil }
        return try JSONSerialization.jsonObject(with: Data(output.stdout.utf8))
    }
}
