import AMQP
import Foundation

/// The loopback cluster `scripts/services start --cluster` runs (three RabbitMQ
/// nodes, three Patroni members), for the suites that kill its nodes. They run
/// only with CLUSTER_TESTS=1 and the cluster's URLs in the environment, as
/// `scripts/services cluster-env` prints them (scripts/test's cluster phase).
public enum ClusterServices {
    private static var environment: [String: String] { ProcessInfo.processInfo.environment }

    public static var enabled: Bool { environment["CLUSTER_TESTS"] == "1" }

    /// `CLUSTER_ORDERS`: how many orders a cluster test may post (1,500: CI's run).
    public static var orderCount: Int { environment["CLUSTER_ORDERS"].flatMap { Int($0) } ?? 1_500 }

    /// `CLUSTER_ORDER_RATE`: orders posted per second while a cluster test measures (25).
    public static var orderRate: Int { environment["CLUSTER_ORDER_RATE"].flatMap { Int($0) } ?? 15 }

    /// The nodes' AMQP URLs, comma-separated (`AMQP_URLS`).
    public static var amqpURLs: String {
        get throws {
            guard let urls = environment["AMQP_URLS"], !urls.isEmpty else {
                throw ChildProcessError(message: "AMQP_URLS is not set: run with the variables of `scripts/services cluster-env`")
            }
            return urls
        }
    }

    /// Each node's management API: `RABBITMQ_MANAGEMENT_URL`'s credentials on the
    /// port 10,000 above the node's AMQP port (RabbitMQ's own layout, 5672/15672,
    /// which the cluster keeps: 5681/15681, …).
    public static var managementURLs: [String] {
        get throws {
            guard let base = environment["RABBITMQ_MANAGEMENT_URL"].flatMap({ URLComponents(string: $0) }) else {
                throw ChildProcessError(message: "RABBITMQ_MANAGEMENT_URL is not set: run with the variables of `scripts/services cluster-env`")
            }
            return try AMQPConfiguration(url: try amqpURLs).endpoints.map { endpoint in
                var url = base
                url.port = endpoint.port + 10_000
                return url.string ?? ""
            }
        }
    }

    /// Deletes the queues named `prefix…` that earlier runs left on the cluster
    /// (a run that fails or is killed does not get to delete its own). Each
    /// is a quorum queue with a replica on every node, and every kill and
    /// restart elects and recovers all of them: left to pile up (239 after a
    /// day of runs), they slowed recovery past the suite's limits.
    public static func deleteQueues(named prefix: String, on connection: AMQPConnection) async throws -> Int {
        var names: [String] = []
        for url in try managementURLs {
            guard let queues = try Management.json(at: "queues?columns=name", managementURL: url, timeout: 10) as? [[String: Any]] else { continue }
            names = queues.compactMap { $0["name"] as? String }.filter { $0.hasPrefix(prefix) }
            break
        }
        let channel = try await connection.openChannel()
        for name in names { _ = try await channel.deleteQueue(name) }
        await channel.close()
        return names.count
    }

    /// A connection to whichever node answers first.
    public static func connectBroker(connectionName: String) async throws -> AMQPConnection {
        var configuration = try AMQPConfiguration(url: try amqpURLs, connectionName: connectionName)
        configuration.connectTimeout = .seconds(2)
        return try await AMQPConnection.connect(configuration)
    }

    /// The node (`rabbit-cN@localhost`) holding the first open connection named
    /// `connectionName`, asked of each node's management API in turn (a killed
    /// node's API does not answer).
    public static func node(ofConnectionNamed connectionName: String) throws -> String? {
        for url in try managementURLs {
            guard let connections = try Management.json(at: "connections", managementURL: url, timeout: 3) as? [[String: Any]] else { continue }
            let named = connections.filter { ($0["client_properties"] as? [String: Any])?["connection_name"] as? String == connectionName }
            return named.compactMap { $0["node"] as? String }.first
        }
        return nil
    }

    /// Ready plus unacknowledged messages in `queue`, from the first node whose API answers.
    public static func messages(in queue: String) throws -> Int? {
        for url in try managementURLs {
            if let object = try Management.json(at: Management.queuePath(queue), managementURL: url, timeout: 3) as? [String: Any] {
                return object["messages"] as? Int
            }
        }
        return nil
    }

    /// Waits until each of `queues` has a replica online on every node (a restarted
    /// node's replicas rejoin after the node itself has booted); throws naming the
    /// first one that has not within `timeout`.
    /// First, every node must see every node running: the nodes pause a minority
    /// (`pause_minority`), so a node that has not yet counted a restarted peer as
    /// running pauses, refusing every client, when another peer is killed.
    public static func waitUntilReplicated(_ queues: [String], nodes: Int = 3, timeout: Duration = .seconds(90)) async throws {
        let deadline = ContinuousClock.now + timeout
        var views: [String: Int] = [:]
        while ContinuousClock.now < deadline {
            views = [:]
            for url in try managementURLs {
                let list = try Management.json(at: "nodes", managementURL: url, timeout: 3) as? [[String: Any]] ?? []
                views[url] = list.filter { $0["running"] as? Bool == true }.count
            }
            if views.count == nodes, views.values.allSatisfy({ $0 >= nodes }) { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        guard views.count == nodes, views.values.allSatisfy({ $0 >= nodes }) else {
            throw ChildProcessError(message: "the nodes do not all see \(nodes) running nodes \(timeout) after the cluster was restored: \(views)")
        }
        for queue in queues {
            var online: [String] = []
            while ContinuousClock.now < deadline {
                online = []
                for url in try managementURLs {
                    guard let object = try Management.json(at: Management.queuePath(queue), managementURL: url, timeout: 3) as? [String: Any] else { continue }
                    online = object["online"] as? [String] ?? []
                    break
                }
                if online.count >= nodes { break }
                try await Task.sleep(for: .milliseconds(500))
            }
            guard online.count >= nodes else {
                throw ChildProcessError(message: "queue \(queue) has replicas online on \(online) only, \(timeout) after the cluster was restored")
            }
        }
    }

    /// The Patroni member that leads (`pg-cN`), as its REST API says.
    public static func leader() throws -> String {
        let output = try Command.run(TestEnvironment.repositoryRoot.appendingPathComponent("scripts/services").path, ["cluster-leader"])
        let name = output.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard output.status == 0, !name.isEmpty else { throw ChildProcessError(message: "the Patroni cluster has no leader: \(output.stderr)") }
        return name
    }

    /// SIGKILL to a RabbitMQ node (`rabbit-cN@localhost`) or a member's postgres (`pg-cN`).
    public static func kill(_ name: String) throws { try LocalServices.run("kill-cluster", name) }

    /// Starts what is not running and returns once the cluster is whole again: three
    /// RabbitMQ nodes booted and clustered, a Patroni leader with two standbys.
    public static func restore() throws { try LocalServices.run("start", "--cluster") }
}
