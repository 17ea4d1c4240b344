import AMQP
import Foundation
import Topology

/// `orderctl topology …`: declare, verify and export the broker topology.
public struct TopologyAdmin: Sendable, BrokerAdmin {
    public let amqpURL: String
    public let topology: Topology

    public init(amqpURL: String, topology: Topology = .standard) {
        self.amqpURL = amqpURL
        self.topology = topology
    }

    /// Declares every queue; returns the report of what is now in place.
    public func declare() async throws -> Report {
        do {
            try await withConnection("declaring the topology") { try await topology.declare(on: $0) }
        } catch let error as TopologyError {
            throw AdminError("\(error)")
        }
        return Report(
            columns: ["queue", "role", "arguments"],
            rows: topology.queues.map { [$0.name, $0.role.rawValue, Self.describe($0.arguments)] })
    }

    /// Lists the queues that are missing or differ; throws (exit 1) when there are any.
    public func verify() async throws -> (report: Report, mismatches: [TopologyMismatch]) {
        let mismatches = try await withConnection("verifying the topology") { try await topology.verify(on: $0) }
        let rows = topology.queues.map { queue -> [String] in
            let problems = mismatches.filter { $0.queue == queue.name }
            return [queue.name, problems.isEmpty ? "ok" : problems.map(\.description).joined(separator: "; ")]
        }
        return (Report(columns: ["queue", "status"], rows: rows), mismatches)
    }

    public func export() -> String { topology.definitionsJSON() }

    static func describe(_ arguments: AMQPTable) -> String {
        arguments.keys.sorted().map { "\($0)=\(arguments[$0]!)" }.joined(separator: " ")
    }
}
