import Foundation
import Topology

/// The bindings the broker has, read from its management API
/// (`RABBITMQ_MANAGEMENT_URL`): AMQP 0-9-1 has no passive bind, so this is the
/// only way to check a binding without making it.
struct ManagementBindings: Sendable {
    /// `http://user:password@host:port`.
    let url: String
    let timeout: Duration

    /// Which of `bindings` the broker has; throws when the API cannot be read.
    func present(_ bindings: [BindingDefinition]) async throws -> Set<BindingDefinition> {
        let api = ManagementAPI(url: url, timeout: timeout)
        var present: Set<BindingDefinition> = []
        for binding in bindings {
            let path = "bindings/%2F/e/\(ManagementAPI.escaped(binding.exchange))/q/\(ManagementAPI.escaped(binding.queue))"
            // 404: the exchange or the queue is missing, so the binding is too.
            guard case .json(let answer) = try await api.get(path) else { continue }
            let entries = answer as? [[String: Any]] ?? []
            if entries.contains(where: { $0["routing_key"] as? String == binding.routingKey }) { present.insert(binding) }
        }
        return present
    }
}
