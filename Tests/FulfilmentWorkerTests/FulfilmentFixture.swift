import AMQP
import Foundation
import FulfilmentWorker
import Logging
import Messaging
import OrderCore
import OrderStore
import Postgres
import ServiceLifecycle
import ServiceSupport
import TestSupport
import Topology

/// Queues of a unique prefix, a product of its own, a warehouse stand-in
/// (`StandInServer`) and fulfilment-worker run against them.
final class FulfilmentFixture: Sendable {
    let prefix = TestEnvironment.uniqueName("ful") + "."
    let topology: Topology
    let broker: AMQPConnection
    let warehouse: StandInServer
    /// A product with plenty of stock at vendorA.
    let product: String

    static let logger: Logger = {
        var logger = Logger(label: "fulfilment-tests")
        logger.logLevel = .critical
        return logger
    }()

    init(retryDelays: [Int], warehouse: StandInServer) async throws {
        topology = Topology(prefix: prefix, fulfilmentRetryDelaysMilliseconds: retryDelays)
        broker = try await AMQPConnection.connect(url: TestEnvironment.amqpURL, connectionName: "fulfilment-tests")
        try await topology.declare(on: broker)
        self.warehouse = warehouse
        try await warehouse.start()
        product = prefix.replacingOccurrences(of: ".", with: "") + "-p"
        _ = try await TestEnvironment.ordersDatabase { connection in
            try connection.query("INSERT INTO vendors (id, name) VALUES ('vendorA', 'vendorA') ON CONFLICT DO NOTHING")
        }
        try TestEnvironment.createProduct(product, stock: ["vendorA": 100_000])
    }

    /// Runs `body` with a fixture, then deletes its queues and stops the stand-in.
    static func with(
        retryDelays: [Int] = [60_000], warehouse: StandInServer = StandInServer { _ in .json(["status": "accepted"], status: 201) },
        _ body: (FulfilmentFixture) async throws -> Void
    ) async throws {
        try await FixtureLifetime.using(
            try await FulfilmentFixture(retryDelays: retryDelays, warehouse: warehouse), tearDown: { await $0.tearDown() }, body)
    }

    func tearDown() async {
        await topology.delete(on: broker)
        await broker.close()
        await warehouse.stop()
    }

    var outboxRouting: OutboxRouting {
        OutboxRouting(
            orderEvents: topology.orderEvents, vendorSyncQueue: topology.vendorSync.main, paymentsQueue: topology.payments.main,
            stockLevels: StockLevelPolicy(threshold: 5))
    }

    /// `count` orders confirmed by the order worker's own applier (one line of
    /// `lines` units each, plus `extra` lines), their `order.confirmed` events published to the
    /// events exchange, where the topology's binding routes them to `fulfilment`.
    func confirmedOrders(_ count: Int, lines: [OrderLine] = [], publish: Bool = true, retryCount: Int? = nil) async throws -> [UUID] {
        let settings = OrderApplier.Settings(eventsExchange: topology.orderEvents)
        let product = product
        let applied = try await TestEnvironment.ordersDatabase { connection in
            try (0..<count).map { _ in
                try OrderApplier.apply(
                    OrderPlaced(orderId: UUID(), lines: [OrderLine(productId: product, quantity: 2)] + lines, idempotencyKey: nil, acceptedAt: Date()),
                    settings: settings, on: connection)
            }
        }
        precondition(applied.allSatisfy { $0.status == .confirmed }, "the test's orders must be confirmed")
        if publish { try await publishEvents(applied.flatMap(\.events), retryCount: retryCount) }
        return applied.map(\.orderId)
    }

    /// Publishes events (with confirms) to the exchange they name, as the worker and the outbox relay do.
    func publishEvents(_ events: [OutboundMessage], retryCount: Int? = nil) async throws {
        let channel = try await broker.openConfirmChannel()
        for event in events {
            var message = AMQPOutgoingMessage(event, timestamp: Date())
            if let retryCount { message.properties.headers[FailureHeaders.Name.retryCount] = .int32(Int32(retryCount)) }
            try await channel.publish([message])
        }
        await channel.close()
    }

    /// The `order.confirmed` events of orders, read back from their history.
    func confirmedEvents(of orders: [UUID]) async throws -> [OutboundMessage] {
        let exchange = topology.orderEvents
        return try await TestEnvironment.ordersDatabase { connection in
            try orders.flatMap { try OrderHistory.eventMessages(of: $0, exchange: exchange, on: connection) }
                .filter { $0.routingKey == "order.confirmed" }
        }
    }

    func order(_ id: UUID) async throws -> OrderDetails {
        try await TestEnvironment.ordersDatabase { try OrderQueries.order(id, on: $0)! }
    }

    /// Polls until every order is in `state`, or `timeout`; returns the states seen last.
    func waitForState(_ state: OrderState, of orders: [UUID], timeout: Duration = .seconds(30)) async throws -> [UUID: OrderState] {
        let deadline = ContinuousClock.now + timeout
        while true {
            var states: [UUID: OrderState] = [:]
            for id in orders { states[id] = try await order(id).status }
            if states.values.allSatisfy({ $0 == state }) || ContinuousClock.now >= deadline { return states }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// The worker's environment: this fixture's queues and warehouse, `overrides` on top.
    func environment(_ overrides: [String: String] = [:]) -> [String: String] {
        [
            "AMQP_URL": TestEnvironment.amqpURL, "DATABASE_URL": TestEnvironment.databaseURL, "QUEUE_PREFIX": prefix,
            "FULFILMENT_RETRY_DELAYS_MS": topology.fulfilmentRetryDelaysMilliseconds.map(String.init).joined(separator: ","),
            "WMS_URL": warehouse.url, "WMS_TIMEOUT_MS": "2000", "FULFILMENT_HTTP_PORT": "0",
        ].merging(overrides) { $1 }
    }

    /// Runs fulfilment-worker in-process while `body` runs, then stops it gracefully.
    /// It reports what it waits for to `status`, its own unless the test reads it.
    func running(
        _ overrides: [String: String] = [:], status: DependencyStatus = DependencyStatus(), _ body: (FulfilmentWorkerApp) async throws -> Void
    ) async throws {
        let configuration = try FulfilmentWorkerConfiguration(environment: EnvironmentConfiguration(environment(overrides)))
        let app = try FulfilmentWorkerApp(configuration: configuration, logger: Self.logger, status: status)
        try await FixtureLifetime.running([app.application], logger: Self.logger) { try await body(app) }
    }

    /// The requests the warehouse stand-in received per order id (from the Idempotency-Key).
    func requestsPerOrder(status: ((StandInServer.Request) -> Bool)? = nil) -> [String: Int] {
        var counts: [String: Int] = [:]
        for request in warehouse.requests where status?(request) ?? true {
            counts[request.headers["idempotency-key"] ?? "", default: 0] += 1
        }
        return counts
    }
}
