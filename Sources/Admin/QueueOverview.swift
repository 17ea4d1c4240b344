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

    /// One GET per queue: the broker's whole list can be far larger than the
    /// topology's (other prefixes share the vhost), and this reads only ours.
    public func figures(timeout: Duration = .seconds(5)) async throws -> [QueueFigures] {
        let api = ManagementAPI(url: managementURL, timeout: timeout)
        var figures: [QueueFigures] = []
        for definition in topology.queues {
            let answer = try await api.get("queues/%2F/\(ManagementAPI.escaped(definition.name))?columns=messages_ready,messages_unacknowledged,consumers")
            let queue: [String: Any]? = if case .json(let object) = answer { object as? [String: Any] } else { nil }
            figures.append(QueueFigures(
                name: definition.name, role: definition.role.rawValue, ready: queue?["messages_ready"] as? Int,
                unacknowledged: queue?["messages_unacknowledged"] as? Int, consumers: queue?["consumers"] as? Int))
        }
        return figures
    }
}
