import AsyncHTTPClient
import Foundation
import NIOCore
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
        guard let base = URLComponents(string: url), let host = base.host else {
            throw AdminError("RABBITMQ_MANAGEMENT_URL must look like http://user:password@host:port")
        }
        let credentials = Data("\(base.user ?? ""):\(base.password ?? "")".utf8).base64EncodedString()
        var present: Set<BindingDefinition> = []
        for binding in bindings {
            let path = "/api/bindings/%2F/e/\(Self.escaped(binding.exchange))/q/\(Self.escaped(binding.queue))"
            var request = HTTPClientRequest(url: "\(base.scheme ?? "http")://\(host):\(base.port ?? 15672)\(path)")
            request.headers.add(name: "Authorization", value: "Basic \(credentials)")
            let response = try await HTTPClient.shared.execute(request, timeout: TimeAmount(timeout))
            var body = try await response.body.collect(upTo: 1 << 20)
            let bytes = body.readBytes(length: body.readableBytes) ?? []
            guard response.status.code == 200 else {
                // 404: the exchange or the queue is missing, so the binding is too.
                if response.status.code == 404 { continue }
                throw AdminError("the management API answered \(response.status.code) for \(path)")
            }
            let entries = try JSONSerialization.jsonObject(with: Data(bytes)) as? [[String: Any]] ?? []
            if entries.contains(where: { $0["routing_key"] as? String == binding.routingKey }) { present.insert(binding) }
        }
        return present
    }

    private static func escaped(_ name: String) -> String {
        name.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_."))) ?? name
    }
}
