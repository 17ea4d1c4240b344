import AMQP
import Foundation

/// Two "nodes" of a cluster for one test: two ``FaultProxy``s in front of the
/// one local broker. Give a process ``urls`` (as `AMQP_URLS`), then cut the
/// node it landed on to see it fail over to the other.
public struct BrokerNodes: Sendable {
    public let first: FaultProxy
    public let second: FaultProxy

    /// Both nodes' URLs, comma-separated: what `AMQP_URLS` holds.
    public var urls: String {
        [first, second].map { $0.url(replacingHostAndPortOf: TestEnvironment.amqpURL) }.joined(separator: ",")
    }

    /// Both nodes, with a connect timeout that keeps a test short.
    public func configuration(connectionName: String) throws -> AMQPConfiguration {
        var configuration = try AMQPConfiguration(url: urls, connectionName: connectionName)
        configuration.connectTimeout = .seconds(2)
        return configuration
    }

    public func proxy(of endpoint: AMQPConfiguration.Endpoint) -> FaultProxy { endpoint.port == first.port ? first : second }
    public func other(than proxy: FaultProxy) -> FaultProxy { proxy === first ? second : first }

    /// The one node that has accepted connections (where a process landed), nil while none or both have.
    public var landed: FaultProxy? {
        switch (first.acceptedConnections > 0, second.acceptedConnections > 0) {
        case (true, false): first
        case (false, true): second
        default: nil
        }
    }

    /// Runs `body` with two fresh nodes and always shuts them down.
    public static func with<T>(_ body: (BrokerNodes) async throws -> T) async throws -> T {
        let direct = URLComponents(string: TestEnvironment.amqpURL)
        let host = direct?.host ?? "127.0.0.1", port = direct?.port ?? 5672
        let nodes = BrokerNodes(
            first: try await FaultProxy(targetHost: host, targetPort: port), second: try await FaultProxy(targetHost: host, targetPort: port))
        do {
            let result = try await body(nodes)
            await nodes.shutdown()
            return result
        } catch {
            await nodes.shutdown()
            throw error
        }
    }

    private func shutdown() async {
        await first.shutdown()
        await second.shutdown()
    }
}
