import AMQP
import Foundation
import TextCodecs
import Topology

/// `orderctl topology …`: declare, verify and export the broker topology.
public struct TopologyAdmin: Sendable, BrokerAdmin {
    public let amqpURL: String
    public let topology: Topology
    /// Where `verify` reads the bindings (`RABBITMQ_MANAGEMENT_URL`); nil leaves them unchecked.
    public let managementURL: String?

    public init(amqpURL: String, topology: Topology = .standard, managementURL: String? = nil) {
        self.amqpURL = amqpURL
        self.topology = topology
        self.managementURL = managementURL
    }

    /// Declares every queue; returns the report of what is now in place.
    /// `recreateEmptyDeadLetterQueues`: see `Topology.declare`.
    public func declare(recreateEmptyDeadLetterQueues: Bool = false) async throws -> Report {
        let recreated: [String]
        do {
            recreated = try await withConnection("declaring the topology") {
                try await topology.declare(on: $0, recreateEmptyDeadLetterQueues: recreateEmptyDeadLetterQueues)
            }
        } catch let error as TopologyError {
            throw AdminError(Self.explain(error, recreateAsked: recreateEmptyDeadLetterQueues))
        }
        return Report(
            columns: ["queue", "role", "arguments", "state"],
            rows: topology.exchanges.map { [$0.name, "exchange", "type=\($0.type)", "declared"] } + topology.queues.map {
                [$0.name, $0.role.rawValue, Self.describe($0.arguments), recreated.contains($0.name) ? "recreated (was empty)" : "declared"]
            } + topology.bindings.map { [$0.queue, "binding", "exchange=\($0.exchange) routing-key=\($0.routingKey)", "declared"] })
    }

    /// The broker's refusal, with what the operator can do about it.
    static func explain(_ error: TopologyError, recreateAsked: Bool) -> String {
        guard case .deadLetterQueueMismatch(let mismatch, let messages, let consumers) = error else { return "\(error)" }
        let queue = mismatch.name
        if messages == 0 && consumers == 0 && !recreateAsked {
            return "\(error) Run `orderctl topology declare --recreate-empty-dead-letter-queues` (with the workers stopped) "
                + "to delete it and declare it with the code's arguments."
        }
        if consumers > 0 {
            return "\(error) Stop what consumes it, then declare again."
        }
        return "\(error) Keep its messages and recreate it (with the workers stopped): "
            + "`orderctl dlq export --queue \(queue) --file \(queue).jsonl --remove`, "
            + "`orderctl topology declare --recreate-empty-dead-letter-queues`, "
            + "`orderctl dlq import --file \(queue).jsonl`."
    }

    /// Lists every queue with its depth and consumers, and whether it is missing or
    /// differs, then every binding (read from the management API, when there is
    /// one); `mismatches` is not empty (exit 1) when any is.
    public func verify() async throws -> (report: Report, mismatches: [TopologyMismatch]) {
        let (queueMismatches, states) = try await withConnection("verifying the topology") { connection -> ([TopologyMismatch], [String: AMQPQueueState]) in
            let mismatches = try await topology.verify(on: connection)
            var states: [String: AMQPQueueState] = [:]
            for queue in topology.queues where !mismatches.contains(where: { $0.name == queue.name && $0.problem == .missing }) {
                // A failed passive declare closes its channel, so each queue gets a fresh one.
                let channel = try await connection.openChannel()
                states[queue.name] = try await channel.declareQueue(queue.name, passive: true)
                await channel.close()
            }
            return (mismatches, states)
        }
        var mismatches = queueMismatches
        var bindingStatus: (BindingDefinition) -> String = { _ in "not checked: no RABBITMQ_MANAGEMENT_URL" }
        if let managementURL {
            do {
                let present = try await ManagementBindings(url: managementURL, timeout: .seconds(5)).present(topology.bindings)
                let missing = topology.missingBindings(present: present)
                mismatches += missing
                bindingStatus = { present.contains($0) ? "ok" : "missing" }
            } catch {
                let reason = "not checked: the management API at \(URLRedaction.redact(managementURL)) did not answer (\(error))"
                bindingStatus = { _ in reason }
            }
        }
        let exchangeRows = topology.exchanges.map { exchange -> [String] in
            let problems = mismatches.filter { $0.name == exchange.name }
            return [exchange.name, "exchange", "-", "-", problems.isEmpty ? "ok" : problems.map(\.description).joined(separator: "; ")]
        }
        let rows = exchangeRows + topology.queues.map { queue -> [String] in
            let problems = mismatches.filter { $0.name == queue.name }
            let state = states[queue.name]
            return [
                queue.name, queue.role.rawValue, state.map { "\($0.messageCount)" } ?? "-", state.map { "\($0.consumerCount)" } ?? "-",
                problems.isEmpty ? "ok" : problems.map(\.description).joined(separator: "; "),
            ]
        }
        let bindingRows = topology.bindings.map { binding -> [String] in
            [binding.queue, "binding \(binding.exchange) \(binding.routingKey)", "-", "-", bindingStatus(binding)]
        }
        return (Report(columns: ["queue", "role", "ready", "consumers", "status"], rows: rows + bindingRows), mismatches)
    }

    public func export() -> String { topology.definitionsJSON() }

    static func describe(_ arguments: AMQPTable) -> String {
        arguments.keys.sorted().map { "\($0)=\(arguments[$0]!)" }.joined(separator: " ")
    }
}
