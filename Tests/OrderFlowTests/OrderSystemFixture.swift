import AMQP
import Foundation
import Logging
import OrderAPI
import OrderCore
import OrderStore
import OrderWorker
import Postgres
import ServiceLifecycle
import ServiceSupport
import Synchronization
import TestSupport
import Testing
import Topology

/// An isolated slice of the live system for one test: queues with a unique
/// prefix, products with unique ids (stocked at vendorA/vendorB), and the
/// real order-worker and order-api wired to them in-process.
final class OrderSystemFixture: Sendable {
    let prefix: String
    let topology: Topology
    private let connection: Mutex<AMQPConnection>
    var broker: AMQPConnection { connection.withLock { $0 } }

    init(retryDelayMilliseconds: Int = 5000) async throws {
        prefix = TestEnvironment.uniqueName("flow") + "."
        topology = Topology(prefix: prefix, retryDelayMilliseconds: retryDelayMilliseconds)
        let broker = try await AMQPConnection.connect(url: TestEnvironment.amqpURL, connectionName: "order-flow-tests")
        connection = Mutex(broker)
        try await topology.declare(on: broker)
        try Self.database { connection in
            for vendor in ["vendorA", "vendorB"] {
                try connection.query("INSERT INTO vendors (id, name) VALUES ($1, $1) ON CONFLICT DO NOTHING", [vendor])
            }
        }
    }

    /// A new connection after the broker restarted.
    func reconnectBroker() async throws {
        let fresh = try await AMQPConnection.connect(url: TestEnvironment.amqpURL, connectionName: "order-flow-tests")
        connection.withLock { $0 = fresh }
    }

    func tearDown() async {
        await topology.delete(on: broker)
        await broker.close()
    }

    /// Runs `body` with the fixture and always tears it down.
    static func with(retryDelayMilliseconds: Int = 5000, _ body: (OrderSystemFixture) async throws -> Void) async throws {
        let fixture = try await OrderSystemFixture(retryDelayMilliseconds: retryDelayMilliseconds)
        do {
            try await body(fixture)
        } catch {
            await fixture.tearDown()
            throw error
        }
        await fixture.tearDown()
    }

    // MARK: Data

    static func database<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try TestEnvironment.withOrdersDatabase(body)
    }

    /// A `text[]` or `uuid[]` parameter in PostgreSQL's array form, `{"a","b"}`
    /// (the ids tests make hold no quotes or backslashes).
    static func arrayParameter(_ elements: [String]) -> String {
        "{" + elements.map { "\"\($0)\"" }.joined(separator: ",") + "}"
    }

    /// Creates a product (unique id) with stock per vendor; returns its id.
    func product(_ name: String, stock: [String: Int]) throws -> String {
        let id = "\(prefix)\(name)".replacingOccurrences(of: "flow-", with: "t")
        try TestEnvironment.createProduct(id, stock: stock)
        return id
    }

    func stock(of product: String) throws -> [String: Int] { try TestEnvironment.stock(of: product) }

    /// Status per order id, for the orders that have a row.
    func statuses(_ ids: [UUID]) throws -> [UUID: String] {
        guard !ids.isEmpty else { return [:] }
        return try Self.database { connection in
            Dictionary(uniqueKeysWithValues: try connection.query(
                "SELECT id, status FROM orders WHERE id = ANY($1::uuid[])", [Self.arrayParameter(ids.map(\.uuidString))]
            ).rows.map { (try $0.decode(0, as: UUID.self), try $0.decode(1, as: String.self)) })
        }
    }

    /// Waits until every id has an order row (or the timeout passes); returns the statuses.
    func waitForOrders(_ ids: [UUID], timeout: Duration = .seconds(60)) async throws -> [UUID: String] {
        let deadline = ContinuousClock.now + timeout
        var result = try statuses(ids)
        while result.count < Set(ids).count, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
            result = try statuses(ids)
        }
        return result
    }

    // MARK: Broker

    func depth(_ queue: String) async throws -> Int { try await broker.depth(of: queue) }

    /// Waits until the queue holds at least `count` messages; returns the last depth seen.
    func waitForDepth(_ queue: String, atLeast count: Int, timeout: Duration = .seconds(30)) async throws -> Int {
        try await broker.waitForDepth(of: queue, timeout: timeout) { $0 >= count }
    }

    /// Takes every message out of a queue (acked), for inspection.
    func drain(_ queue: String) async throws -> [AMQPDelivery] { try await broker.drain(queue) }

    /// Publishes raw bytes to the orders queue, as a misbehaving producer would.
    func publishRaw(_ body: [UInt8], messageID: String, type: String? = OrderPlaced.messageType) async throws {
        let channel = try await broker.openConfirmChannel()
        try await channel.publish(body, routingKey: topology.orders.main, mandatory: true,
                                  properties: AMQPProperties(contentType: "application/json", deliveryMode: .persistent, messageID: messageID, type: type))
        await channel.close()
    }

    /// Publishes copies of messages to `queue` (confirmed), as a redelivery or an operator's replay would.
    func publish(_ messages: [(body: [UInt8], properties: AMQPProperties)], to queue: String) async throws {
        let channel = try await broker.openConfirmChannel()
        for message in messages {
            try await channel.publish(message.body, routingKey: queue, mandatory: true, properties: message.properties)
        }
        await channel.close()
    }

    /// Waits until a consumer took every message out of `queue`, then gives it a moment to settle them.
    func waitUntilTaken(_ queue: String) async throws {
        let ready = try await broker.waitForDepth(of: queue) { $0 == 0 }
        #expect(ready == 0, "\(queue): \(ready) messages were never consumed")
        try await Task.sleep(for: .seconds(1))
    }

    /// After the consumers of `queues` stopped: nothing is left in them. A message a consumer
    /// took and did not ack is back in its queue once the consumer is gone, so this also
    /// proves nothing was left unacked, retried or dead-lettered.
    func expectSettled(_ queues: QueueSet) async throws {
        try await Task.sleep(for: .milliseconds(500))
        for queue in [queues.main, queues.retry, queues.deadLetter] {
            #expect(try await depth(queue) == 0, "\(queue) still holds messages")
        }
    }

    func publish(_ order: OrderPlaced) async throws {
        try await publishRaw(order.encoded(), messageID: order.orderId.uuidString)
    }

    // MARK: Processes in-process

    /// What every process of this slice reads: the test run's broker and databases, this fixture's queues.
    var environment: [String: String] {
        TestEnvironment.processEnvironment.merging([
            "QUEUE_PREFIX": prefix, "RETRY_DELAY_MS": "\(topology.retryDelayMilliseconds)",
        ]) { $1 }
    }

    /// Runs the real order-worker services until `body` returns, then shuts them down gracefully.
    /// Its loops report to `status`, their own unless the test reads it.
    func withWorker<T>(
        _ overrides: [String: String] = [:], status: DependencyStatus = DependencyStatus(),
        wrap: (@Sendable (OrderMessageHandler) -> any Messaging.DeliveryHandler)? = nil, _ body: () async throws -> T
    ) async throws -> T {
        let configuration = try OrderWorkerConfiguration(environment: EnvironmentConfiguration(environment.merging(overrides) { $1 }))
        var logger = Logger(label: "test-order-worker")
        logger.logLevel = .warning
        return try await withServices(
            try OrderWorkerApp(configuration: configuration, logger: logger, status: status, wrap: wrap).services, logger: logger, body)
    }

    /// Runs services in the background until `body` returns, then stops them gracefully.
    func withServices<T>(_ services: [any Service], logger: Logger, _ body: () async throws -> T) async throws -> T {
        let running = RunningServices(services, logger: logger)
        do {
            let result = try await body()
            await running.stop()
            return result
        } catch {
            await running.stop()
            throw error
        }
    }

    /// What this fixture's order-worker applies windows with.
    var applierSettings: OrderApplier.Settings {
        get throws { try OrderWorkerConfiguration(environment: EnvironmentConfiguration(environment)).applierSettings }
    }

    func apiConfiguration() throws -> OrderAPIConfiguration {
        try OrderAPIConfiguration(environment: EnvironmentConfiguration(environment))
    }
}

import Messaging
