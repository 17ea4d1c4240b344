import AMQP
import Console
import Foundation
import Hummingbird
import Logging
import Messaging
import OrderCore
import OrderWorker
import ServiceLifecycle
import ServiceSupport
import TestSupport
import Topology

/// A console over a topology of its own (a unique queue prefix), with
/// products of its own, dead-lettered order messages put there by the test,
/// and the real order-worker in-process when a test needs one.
final class ConsoleFixture: Sendable {
    let prefix: String
    let topology: Topology
    let broker: AMQPConnection
    static let token = "console-test-token-3f9a1c"

    init() async throws {
        prefix = TestEnvironment.uniqueName("console") + "."
        topology = Topology(prefix: prefix, retryDelayMilliseconds: 1000, deliveryLimit: 10)
        broker = try await AMQPConnection.connect(url: TestEnvironment.amqpURL, connectionName: "console-tests")
        try await topology.declare(on: broker)
        try TestEnvironment.withOrdersDatabase { connection in
            for vendor in ["vendorA", "vendorB"] {
                try connection.query("INSERT INTO vendors (id, name) VALUES ($1, $1) ON CONFLICT DO NOTHING", [vendor])
            }
        }
    }

    static func with(_ body: (ConsoleFixture) async throws -> Void) async throws {
        try await FixtureLifetime.using(try await ConsoleFixture(), tearDown: { await $0.tearDown() }, body)
    }

    func tearDown() async {
        await topology.delete(on: broker)
        await broker.close()
    }

    var environment: [String: String] {
        [
            "AMQP_URL": TestEnvironment.amqpURL, "DATABASE_URL": TestEnvironment.databaseURL, "QUEUE_PREFIX": prefix,
            "RABBITMQ_MANAGEMENT_URL": TestEnvironment.managementURL, "RETRY_DELAY_MS": "\(topology.retryDelayMilliseconds)",
        ]
    }

    /// The console on this topology; `token` nil makes it read-only.
    func console(token: String? = ConsoleFixture.token) throws -> some ApplicationProtocol {
        var values = environment
        values["CONSOLE_TOKEN"] = token
        values["CONSOLE_HTTP_PORT"] = "0"
        var logger = Logger(label: "console-tests")
        logger.logLevel = .critical
        return try buildConsole(configuration: try ConsoleConfiguration(environment: EnvironmentConfiguration(values)), logger: logger)
    }

    var ordersDLQ: String { topology.orders.deadLetter }

    /// A product with a unique id and this stock per vendor.
    func product(_ name: String, stock: [String: Int]) throws -> String {
        let id = prefix + name
        try TestEnvironment.createProduct(id, stock: stock)
        return id
    }

    /// An order message for `product`, as the worker dead-letters it after its retries (reason and message id given).
    func deadLetter(
        _ order: OrderPlaced, reason: String = "database-unavailable", messageID: String? = nil
    ) -> (body: [UInt8], properties: AMQPProperties) {
        let properties = AMQPProperties(
            contentType: "application/json", deliveryMode: .persistent, correlationID: order.orderId.uuidString.lowercased(),
            messageID: messageID ?? order.orderId.uuidString.lowercased(), timestamp: Date(), type: OrderPlaced.messageType)
        return (order.encoded(), FailureHeaders.failureCopy(
            of: properties, retryCount: 3, reason: reason, message: "PostgreSQL connection error: could not connect",
            originalQueue: topology.orders.main, failedBy: "order-worker"))
    }

    /// One-unit orders of `product` dead-lettered into the orders DLQ, one per reason, once the DLQ counts them all.
    func deadLetteredOrders(of product: String, reasons: [String]) async throws -> [OrderPlaced] {
        let orders = reasons.map { _ in OrderPlaced(orderId: UUID(), lines: [OrderLine(productId: product, quantity: 1)], idempotencyKey: nil, acceptedAt: Date()) }
        try await publish(zip(orders, reasons).map { deadLetter($0, reason: $1) }, to: ordersDLQ)
        let depth = try await waitForDepth(ordersDLQ, toBe: orders.count)
        guard depth == orders.count else { throw FixtureError(message: "\(ordersDLQ) holds \(depth) messages, not \(orders.count)") }
        return orders
    }

    struct FixtureError: Error {
        let message: String
    }

    func publish(_ messages: [(body: [UInt8], properties: AMQPProperties)], to queue: String) async throws {
        let channel = try await broker.openConfirmChannel()
        try await channel.publish(messages.map { AMQPOutgoingMessage($0.body, routingKey: queue, mandatory: true, properties: $0.properties) })
        await channel.close()
    }

    func waitForDepth(_ queue: String, toBe count: Int, timeout: Duration = .seconds(30)) async throws -> Int {
        try await broker.waitForDepth(of: queue, timeout: timeout) { $0 == count }
    }

    /// The order's status in ordersdb, waiting up to `timeout` for it to be one of `statuses`.
    func waitForOrder(_ id: UUID, in statuses: Set<String>, timeout: Duration = .seconds(90)) async throws -> String? {
        let deadline = ContinuousClock.now + timeout
        while true {
            let status = try TestEnvironment.withOrdersDatabase { connection in
                try connection.query("SELECT status FROM orders WHERE id = $1", [id]).first.map { try $0.decode(0, as: String.self) }
            }
            if let status, statuses.contains(status) { return status }
            if ContinuousClock.now >= deadline { return status }
            try await Task.sleep(for: .milliseconds(250))
        }
    }

    /// The real order-worker services on this topology until `body` returns.
    func withWorker<T>(_ body: () async throws -> T) async throws -> T {
        let configuration = try OrderWorkerConfiguration(environment: EnvironmentConfiguration(environment))
        var logger = Logger(label: "console-tests-order-worker")
        logger.logLevel = .critical
        let app = try OrderWorkerApp(configuration: configuration, logger: logger)
        return try await FixtureLifetime.running(app.services, logger: logger, body)
    }
}
