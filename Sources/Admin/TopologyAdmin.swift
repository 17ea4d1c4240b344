import AMQP
import Foundation
import Topology

/// `orderctl topology …`: declare, verify and export the broker topology.
public struct TopologyAdmin: Sendable {
    public let amqpURL: String
    public let topology: Topology

    public init(amqpURL: String, topology: Topology = .standard) {
        self.amqpURL = amqpURL
        self.topology = topology
    }

    private func connect() async throws -> AMQPConnection {
        let config = try AMQPConfiguration(url: amqpURL, connectionName: "orderctl")
        do {
            return try await AMQPConnection.connect(config)
        } catch {
            throw AdminError.broker(error, url: config.redactedURL)
        }
    }

    /// Declares every queue; returns the report of what is now in place.
    public func declare() async throws -> Report {
        let connection = try await connect()
        defer { Task { await connection.close() } }
        do {
            try await topology.declare(on: connection)
        } catch let error as TopologyError {
            throw AdminError("\(error)")
        }
        return Report(
            columns: ["queue", "role", "arguments"],
            rows: topology.queues.map { [$0.name, $0.role.rawValue, Self.describe($0.arguments)] })
    }

    /// Lists the queues that are missing or differ; throws (exit 1) when there are any.
    public func verify() async throws -> (report: Report, mismatches: [TopologyMismatch]) {
        let connection = try await connect()
        defer { Task { await connection.close() } }
        let mismatches = try await topology.verify(on: connection)
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
