import AMQP
import Foundation
import TestSupport
import Testing

/// `AMQP_URLS`: a comma-separated list of a cluster's nodes, parsed by `AMQPConfiguration(url:)`.
@Suite struct AMQPEndpointListTests {
    static let secret = "Node-Pass-9c41"

    @Test func parsesTheNodesInOrderWithSharedCredentials() throws {
        let config = try AMQPConfiguration(
            url: "amqp://u:\(Self.secret)@n1:5681/orders, amqp://u:\(Self.secret)@n2:5682/orders,amqp://u:\(Self.secret)@n3/orders?heartbeat=10")
        #expect(config.endpoints == [.init(host: "n1", port: 5681), .init(host: "n2", port: 5682), .init(host: "n3", port: 5672)])
        #expect(config.user == "u" && config.password == Self.secret && config.vhost == "orders")
        #expect(config.redactedURL == "amqp://u:***@n1:5681/orders,amqp://u:***@n2:5682/orders,amqp://u:***@n3:5672/orders")
        #expect(config.redactedURL(of: config.endpoints[1]) == "amqp://u:***@n2:5682/orders")
    }

    @Test func oneURLIsAListOfOne() throws {
        let config = try AMQPConfiguration(url: "amqp://u:\(Self.secret)@n1:5681/%2F")
        #expect(config.endpoints == [.init(host: "n1", port: 5681)])
        #expect(config.redactedURL == "amqp://u:***@n1:5681/%2F")
    }

    @Test(arguments: [
        ("amqp://u:SECRET@n1,", "item 2 of 2", "is empty"),
        ("amqp://u:SECRET@n1, ,amqp://u:SECRET@n2", "item 2 of 3", "is empty"),
        ("amqp://u:SECRET@n1,amqps://u:SECRET@n2", "item 2 of 2", "unsupported URL scheme 'amqps'"),
        ("amqp://u:SECRET@n1,n2:5672", "item 2 of 2", "unsupported URL scheme 'n2'"),
        ("amqp://u:SECRET@n1,amqp://v:SECRET@n2", "item 2 of 2", "user name differs"),
        ("amqp://u:SECRET@n1,amqp://u:SECRETX@n2", "item 2 of 2", "password differs"),
        ("amqp://u:SECRET@n1/a,amqp://u:SECRET@n2/b", "item 2 of 2", "vhost differs"),
        ("amqp://u:SECRET@n1,amqp://u:SECRET@n2?heartbeat=3", "item 2 of 2", "options"),
        ("amqp://u:SECRET@n1,amqp://u:SECRET@n1:5672", "item 2 of 2", "repeats the node n1:5672"),
        ("amqp://u:SECRET@n1,amqp://u:SECRET@n2,amqp://u:SECRET@n3/?bogus=1", "item 3 of 3", "unknown AMQP URL option 'bogus'"),
    ])
    func refusesABadListNamingTheItem(list: String, position: String, problem: String) {
        let error = #expect(throws: AMQPError.self) { try AMQPConfiguration(url: list.replacing("SECRET", with: Self.secret)) }
        #expect(error?.kind == .invalidArgument)
        #expect(error?.message.contains(position) == true, "\(error?.message ?? "")")
        #expect(error?.message.contains(problem) == true, "\(error?.message ?? "")")
        #expect(error?.description.contains(Self.secret) == false)
    }
}

/// Two proxies in front of the one local broker stand for two nodes of a cluster.
@Suite(.timeLimit(.minutes(2))) struct AMQPFailoverTests {
    @Test func connectsToTheNodeThatIsUp() async throws {
        try await BrokerNodes.with { nodes in
            let configuration = try nodes.configuration(connectionName: "amqp-failover-tests")
            await nodes.first.cut()
            let connection = try await AMQPConnection.connect(configuration)
            #expect(connection.endpoint.port == nodes.second.port)
            _ = try await connection.openChannel()
            await connection.close()

            try await nodes.first.restore()
            await nodes.second.cut()
            let again = try await AMQPConnection.connect(configuration)
            #expect(again.endpoint.port == nodes.first.port)
            await again.close()
        }
    }

    /// A node that failed under a connection is tried last, even once it is back:
    /// a reconnect goes straight to the next one.
    @Test func aReconnectGoesToTheNextNodeFirst() async throws {
        try await BrokerNodes.with { nodes in
            let configuration = try nodes.configuration(connectionName: "amqp-failover-tests")
            let connection = try await AMQPConnection.connect(configuration)
            let lost = nodes.proxy(of: connection.endpoint)
            let next = nodes.other(than: lost)
            await lost.cut()
            #expect(await connection.waitUntilClosed().isConnectionDead)
            try await lost.restore()
            let acceptedBefore = lost.acceptedConnections

            let reconnected = try await AMQPConnection.connect(configuration)
            #expect(reconnected.endpoint.port == next.port)
            #expect(lost.acceptedConnections == acceptedBefore, "the node that failed was not tried first")
            await reconnected.close()
        }
    }

    @Test func whenNoNodeTakesTheConnectionTheErrorNamesEveryNode() async throws {
        try await BrokerNodes.with { nodes in
            let configuration = try nodes.configuration(connectionName: "amqp-failover-tests")
            await nodes.first.cut()
            await nodes.second.cut()
            let started = ContinuousClock.now
            let error = await #expect(throws: AMQPError.self) { try await AMQPConnection.connect(configuration) }
            #expect(ContinuousClock.now - started < .seconds(5), "each node within its connect timeout")
            #expect(error?.isConnectionDead == true)
            let message = error?.message ?? ""
            #expect(message.contains("2 tried"), "\(message)")
            for proxy in [nodes.first, nodes.second] {
                #expect(message.contains("@127.0.0.1:\(proxy.port)/"), "\(message)")
            }
            #expect(message.contains(":***@"))
            #expect(!message.contains(configuration.password + "@"))
        }
    }
}
