import AMQP
import Admin
import Foundation
import Logging
import Messaging
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
/// prefix, products with unique ids, the real order-worker in-process on
/// those queues, and `DeadLetterAdmin` pointed at them.
final class DLQFixture: Sendable {
    let prefix: String
    let topology: Topology
    private let connection: Mutex<AMQPConnection>
    /// Extra queues a test declared, deleted with the topology's.
    private let extraQueues = Mutex<[String]>([])
    var broker: AMQPConnection { connection.withLock { $0 } }

    init(deliveryLimit: Int = 10) async throws {
        prefix = TestEnvironment.uniqueName("dlq") + "."
        topology = Topology(prefix: prefix, retryDelayMilliseconds: 1000, deliveryLimit: deliveryLimit)
        let broker = try await AMQPConnection.connect(url: TestEnvironment.amqpURL, connectionName: "admin-tests")
        connection = Mutex(broker)
        try await topology.declare(on: broker)
        try Self.database { connection in
            for vendor in ["vendorA", "vendorB"] {
                try connection.query("INSERT INTO vendors (id, name) VALUES ($1, $1) ON CONFLICT DO NOTHING", [vendor])
            }
        }
    }

    static func with(deliveryLimit: Int = 10, _ body: (DLQFixture) async throws -> Void) async throws {
        let fixture = try await DLQFixture(deliveryLimit: deliveryLimit)
        do {
            try await body(fixture)
        } catch {
            await fixture.tearDown()
            throw error
        }
        await fixture.tearDown()
    }

    func tearDown() async {
        if !broker.isOpen, let fresh = try? await AMQPConnection.connect(url: TestEnvironment.amqpURL, connectionName: "admin-tests") {
            connection.withLock { $0 = fresh }
        }
        await topology.delete(on: broker)
        if let channel = try? await broker.openChannel() {
            for queue in extraQueues.withLock({ $0 }) { _ = try? await channel.deleteQueue(queue) }
        }
        await broker.close()
    }

    /// A new connection after the broker restarted.
    func reconnectBroker() async throws {
        let fresh = try await AMQPConnection.connect(url: TestEnvironment.amqpURL, connectionName: "admin-tests")
        connection.withLock { $0 = fresh }
    }

    var admin: DeadLetterAdmin { DeadLetterAdmin(amqpURL: TestEnvironment.amqpURL, topology: topology) }

    var ordersDLQ: String { topology.orders.deadLetter }

    /// Declares one more (quorum) queue, deleted at the end.
    func extraQueue(_ name: String) async throws -> String {
        let queue = prefix + name
        let channel = try await broker.openChannel()
        try await channel.declareQueue(queue, arguments: ["x-queue-type": "quorum"])
        await channel.close()
        extraQueues.withLock { $0.append(queue) }
        return queue
    }

    // MARK: Data

    static func database<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try TestEnvironment.withOrdersDatabase(body)
    }

    /// Creates a product (unique id) with stock per vendor; returns its id.
    func product(_ name: String, stock: [String: Int]) throws -> String {
        let id = "\(prefix)\(name)"
        try TestEnvironment.createProduct(id, stock: stock)
        return id
    }

    func stock(of product: String) throws -> [String: Int] { try TestEnvironment.stock(of: product) }

    /// Order rows per id (the count, to show none is there twice) and their statuses.
    func orderRows(_ ids: [UUID]) throws -> (rows: Int, statuses: [UUID: String]) {
        try Self.database { connection in
            let list = "{" + ids.map(\.uuidString).joined(separator: ",") + "}"
            let rows = try connection.query("SELECT id, status FROM orders WHERE id = ANY($1::uuid[])", [list]).rows
            var statuses: [UUID: String] = [:]
            for row in rows { statuses[try row.decode(0, as: UUID.self)] = try row.decode(1, as: String.self) }
            return (rows.count, statuses)
        }
    }

    /// Units allocated to these orders (a second application would add more).
    func allocatedQuantity(_ ids: [UUID]) throws -> Int {
        try Self.database { connection in
            let list = "{" + ids.map(\.uuidString).joined(separator: ",") + "}"
            return try connection.query(
                "SELECT coalesce(sum(quantity), 0)::int FROM stock_movements WHERE order_id = ANY($1::uuid[])", [list]
            ).rows[0].decode(0, as: Int.self)
        }
    }

    /// Waits until every id has an order row (or the timeout passes).
    func waitForOrders(_ ids: [UUID], timeout: Duration = .seconds(90)) async throws -> [UUID: String] {
        let deadline = ContinuousClock.now + timeout
        var result = try orderRows(ids).statuses
        while result.count < Set(ids).count, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(250))
            result = try orderRows(ids).statuses
        }
        return result
    }

    // MARK: Broker

    func depth(_ queue: String) async throws -> Int { try await broker.depth(of: queue) }

    /// Waits until the queue holds `count` messages; returns the last depth seen.
    func waitForDepth(_ queue: String, toBe count: Int, timeout: Duration = .seconds(30)) async throws -> Int {
        try await broker.waitForDepth(of: queue, timeout: timeout) { $0 == count }
    }

    /// Takes every message out of a queue (acked), for inspection.
    func drain(_ queue: String) async throws -> [AMQPDelivery] { try await broker.drain(queue) }

    /// Publishes with confirm and mandatory, as one batch (one wait for all the confirms).
    func publish(_ messages: [(body: [UInt8], properties: AMQPProperties)], to queue: String) async throws {
        let channel = try await broker.openConfirmChannel()
        try await channel.publish(messages.map { AMQPOutgoingMessage($0.body, routingKey: queue, mandatory: true, properties: $0.properties) })
        await channel.close()
    }

    /// An order message as the API publishes it.
    static func orderMessage(_ order: OrderPlaced) -> (body: [UInt8], properties: AMQPProperties) {
        (order.encoded(), AMQPProperties(
            contentType: "application/json", deliveryMode: .persistent, correlationID: order.orderId.uuidString,
            messageID: order.orderId.uuidString, timestamp: Date(timeIntervalSince1970: 1_767_225_600), type: OrderPlaced.messageType))
    }

    /// The same message as the worker dead-letters it after its retries ran out.
    func deadLettered(
        _ message: (body: [UInt8], properties: AMQPProperties), reason: String = "database-unavailable", retries: Int = 3,
        failedAt: Date = Date()
    ) -> (body: [UInt8], properties: AMQPProperties) {
        let properties = FailureHeaders.failureCopy(
            of: message.properties, retryCount: retries, reason: reason, message: "PostgreSQL connection error: could not connect",
            originalQueue: topology.orders.main, failedBy: "order-worker", now: failedAt)
        return (message.body, properties)
    }

    // MARK: Processes in-process

    /// Runs the real order-worker services until `body` returns, then shuts them down gracefully.
    func withWorker<T>(_ overrides: [String: String] = [:], _ body: () async throws -> T) async throws -> T {
        let environment = [
            "AMQP_URL": TestEnvironment.amqpURL, "DATABASE_URL": TestEnvironment.databaseURL, "QUEUE_PREFIX": prefix,
            "RETRY_DELAY_MS": "\(topology.retryDelayMilliseconds)",
        ].merging(overrides) { $1 }
        let configuration = try OrderWorkerConfiguration(environment: EnvironmentConfiguration(environment))
        var logger = Logger(label: "admin-tests-order-worker")
        logger.logLevel = .critical
        let app = try OrderWorkerApp(configuration: configuration, logger: logger)
        let group = ServiceGroup(configuration: .init(services: app.services.map { .init(service: $0) }, logger: logger))
        let running = Task { try await group.run() }
        do {
            let result = try await body()
            await group.triggerGracefulShutdown()
            try await running.value
            return result
        } catch {
            await group.triggerGracefulShutdown()
            _ = try? await running.value
            throw error
        }
    }
}
