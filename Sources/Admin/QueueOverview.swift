import Foundation
import Topology

/// One queue as the broker's management API counts it.
public struct QueueFigures: Sendable, Hashable {
    public let name: String
    /// main, retry or dead-letter.
    public let role: String
    /// nil when the broker has no such queue (the topology is not declared).
    public let ready: Int?
    public let unacknowledged: Int?
    public let consumers: Int?
}

/// Every queue of the topology with its depth (ready and unacknowledged) and
/// consumer count, from the management API: unlike a passive declare it
/// counts unacknowledged messages and consumers, and reads no message.
/// The API refreshes its figures every few seconds.
public struct QueueOverview: Sendable {
    public let managementURL: String
    public let topology: Topology

    public init(managementURL: String, topology: Topology) {
        self.managementURL = managementURL
        self.topology = topology
    }

    public func figures(timeout: Duration = .seconds(5)) async throws -> [QueueFigures] {
        let answer = try await ManagementAPI(url: managementURL, timeout: timeout)
            .get("queues/%2F?columns=name,messages_ready,messages_unacknowledged,consumers")
        var byName: [String: [String: Any]] = [:]
        if case .json(let list) = answer {
            for queue in list as? [[String: Any]] ?? [] {
                if let name = queue["name"] as? String { byName[name] = queue }
            }
        }
        return topology.queues.map { definition in
            let queue = byName[definition.name]
            return QueueFigures(
                name: definition.name, role: definition.role.rawValue, ready: queue?["messages_ready"] as? Int,
                unacknowledged: queue?["messages_unacknowledged"] as? Int, consumers: queue?["consumers"] as? Int)
        }
    }
}
