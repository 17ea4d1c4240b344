import AMQP
import Foundation
import HTTPSupport
import Hummingbird
import HummingbirdTesting
import Logging
import Messaging
import OrderCore
import OrderStore
import OrderWorker
import Postgres
import ServiceSupport
import Synchronization
import TestSupport
import Testing

/// Hands the orders of `spent` (all it is given) a message-specific failure (their retries are
/// spent, so it dead-letters them) and cuts `proxy` the first time the worker
/// records one as FAILED: the mark finds the database away.
final class MarkDuringOutageHandler: DeliveryHandler {
    let inner: OrderMessageHandler
    let proxy: FaultProxy
    let spent: Set<String>
    let cut = Mutex(false)

    init(_ inner: OrderMessageHandler, proxy: FaultProxy, spent: Set<String>) {
        self.inner = inner
        self.proxy = proxy
        self.spent = spent
    }

    /// The test's window holds its one order: it never reaches the database.
    func handleBatch(_ deliveries: [AMQPDelivery], logger: Logger) async throws -> HandledWindow {
        precondition(deliveries.allSatisfy { spent.contains($0.properties.messageID ?? "") })
        return HandledWindow(outcomes: deliveries.map { _ in .retry(reason: "lock-timeout", message: "canceling statement due to lock timeout") })
    }

    func retriesExhausted(_ delivery: AMQPDelivery, reason: String, logger: Logger) async throws {
        let first = cut.withLock { cut in
            defer { cut = true }
            return !cut
        }
        if first { await proxy.cut() }
        try await inner.retriesExhausted(delivery, reason: reason, logger: logger)
    }
}

/// order-worker with its database taken away (a `FaultProxy` between it and
/// ordersdb_test, cut and restored) while orders flow: it holds its window
/// instead of spending retries, says why on `/health/ready`, and applies every
/// order once, in queue order, when the database is back.
@Suite(.timeLimit(.minutes(3))) struct DatabaseOutageTests {
    /// A proxy in front of the test run's PostgreSQL for `body`, shut down after it.
    static func withProxy(_ body: (FaultProxy) async throws -> Void) async throws {
        let direct = try TestEnvironment.postgresConfiguration()
        try await FixtureLifetime.using(try await FaultProxy(targetHost: direct.endpoints[0].host, targetPort: direct.endpoints[0].port), tearDown: { await $0.shutdown() }, body)
    }

    /// `/health/ready` of the worker's metrics server, answered from `status`.
    static func readiness(_ status: DependencyStatus) async throws -> HTTPResult {
        try await Application(router: MetricsServer.router(status: status)).test(.router) { client in try await client.call(.get, "/health/ready") }
    }

    @Test func ordersPostedWhileTheDatabaseIsAwayAreAppliedOnceInQueueOrderWhenItIsBack() async throws {
        try await OrderSystemFixture.with(retryDelayMilliseconds: 1000) { system in try await Self.withProxy { proxy in
            let stock = 3
            let product = try system.product("outage", stock: ["vendorA": stock])
            let warmUp = try system.product("outage-warm-up", stock: ["vendorA": 1])
            let first = OrderPlaced(orderId: UUID(), lines: [OrderLine(productId: warmUp, quantity: 1)], idempotencyKey: nil, acceptedAt: Date())
            let orders = (0..<8).map { _ in
                OrderPlaced(orderId: UUID(), lines: [OrderLine(productId: product, quantity: 1)], idempotencyKey: nil, acceptedAt: Date())
            }
            let status = DependencyStatus()
            let recorder = Mutex<RecordingHandler?>(nil)
            let overrides = [
                "DATABASE_URL": proxy.url(replacingHostAndPortOf: TestEnvironment.databaseURL), "WORKER_CONCURRENCY": "1", "WORKER_BATCH_SIZE": "3",
            ]
            try await system.withWorker(overrides, status: status, wrap: { handler in
                let recording = RecordingHandler(handler)
                recorder.withLock { $0 = recording }
                return recording
            }) { () async throws in
                try await system.publish(first)
                #expect(try await system.waitForOrders([first.orderId])[first.orderId] == "CONFIRMED")
                #expect(try await Self.readiness(status).status == 200)

                await proxy.cut()
                let cutAt = ContinuousClock.now
                for order in orders { try await system.publish(order) }
                var ready = try await Self.readiness(status)
                while ready.status != 503, ContinuousClock.now < cutAt + .seconds(10) {
                    try await Task.sleep(for: .milliseconds(100))
                    ready = try await Self.readiness(status)
                }
                #expect(ready.status == 503, "\(ready.text)")
                #expect(ready.json["status"] as? String == "unavailable")
                let away = try #require((ready.json["unavailable"] as? [[String: Any]])?.first, "\(ready.text)")
                #expect(away["dependency"] as? String == "ordersdb")
                #expect((away["detail"] as? String)?.isEmpty == false, "\(ready.text)")
                #expect(away["since"] as? String != nil, "\(ready.text)")
                #expect(!ready.text.contains("127.0.0.1"), "the reason, not where: \(ready.text)")
                try await Task.sleep(until: cutAt + .seconds(10))
                // Ten seconds is three of the one-second retry tiers: had the worker spent
                // retries, the first orders would be in the DLQ by now.
                #expect(try await system.depth(system.topology.orders.deadLetter) == 0)
                #expect(try await system.depth(system.topology.orders.retry) == 0)
                #expect(try system.statuses(orders.map(\.orderId)).isEmpty, "nothing applied while the database is away")

                try await proxy.restore()
                let statuses = try await system.waitForOrders(orders.map(\.orderId))
                #expect(orders.map { statuses[$0.orderId] } == Array(repeating: "CONFIRMED", count: stock) + Array(repeating: "REJECTED", count: orders.count - stock),
                        "the first \(stock) in queue order get the stock")
                var back = try await Self.readiness(status)
                let deadline = ContinuousClock.now + .seconds(10)
                while back.status != 200, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(100))
                    back = try await Self.readiness(status)
                }
                #expect(back.status == 200, "\(back.text)")
                #expect(back.json["status"] as? String == "ready")
                try await system.waitUntilTaken(system.topology.orders.main)
            }
            try await system.expectSettled(system.topology.orders)
            let recording = try #require(recorder.withLock { $0 })
            for order in orders {
                let attempts = recording.attempts(of: order.orderId.uuidString)
                #expect(!attempts.isEmpty)
                #expect(attempts.allSatisfy { $0.retryCount == 0 }, "no retry spent: \(attempts.map(\.retryCount))")
            }
            #expect(try system.stock(of: product) == ["vendorA": 0])
            let allocations = try OrderSystemFixture.database { connection in
                try connection.query(
                    "SELECT count(*) FROM stock_movements WHERE product_id = $1 AND kind = 'allocate'", [product]
                ).first?.decode(0, as: Int.self)
            }
            #expect(allocations == stock, "each confirmed order allocated once")
        } }
    }

    @Test func anOrderWhoseRetriesAreSpentIsMarkedFailedWhenTheDatabaseIsBack() async throws {
        try await OrderSystemFixture.with(retryDelayMilliseconds: 1000) { system in try await Self.withProxy { proxy in
            let product = try system.product("outage-mark", stock: ["vendorA": 5])
            let order = OrderPlaced(orderId: UUID(), lines: [OrderLine(productId: product, quantity: 1)], idempotencyKey: nil, acceptedAt: Date())
            var properties = AMQPProperties(contentType: "application/json", deliveryMode: .persistent, messageID: order.orderId.uuidString, type: OrderPlaced.messageType)
            properties.headers[FailureHeaders.Name.retryCount] = .int32(3)
            try await system.publish([(order.encoded(), properties)], to: system.topology.orders.main)
            let status = DependencyStatus()
            let overrides = ["DATABASE_URL": proxy.url(replacingHostAndPortOf: TestEnvironment.databaseURL), "WORKER_CONCURRENCY": "1"]
            let handler = Mutex<MarkDuringOutageHandler?>(nil)
            try await system.withWorker(overrides, status: status, wrap: { inner in
                let marking = MarkDuringOutageHandler(inner, proxy: proxy, spent: [order.orderId.uuidString])
                handler.withLock { $0 = marking }
                return marking
            }) { () async throws in
                let deadline = ContinuousClock.now + .seconds(20)
                while status.isReady, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
                #expect(status.outages.map(\.dependency) == ["ordersdb"], "the mark waits for the database")
                try await Task.sleep(for: .seconds(3))
                #expect(try await system.depth(system.topology.orders.deadLetter) == 0, "no DLQ copy before the order is marked")
                #expect(try system.statuses([order.orderId]).isEmpty)
                try await proxy.restore()
                #expect(try await system.waitForDepth(system.topology.orders.deadLetter, atLeast: 1) == 1)
                #expect(try system.statuses([order.orderId])[order.orderId] == "FAILED", "marked before its copy reached the DLQ")
            }
            #expect(handler.withLock { $0?.cut.withLock { $0 } } == true)
            let dead = try await system.drain(system.topology.orders.deadLetter)
            #expect(dead.map(\.properties.messageID) == [order.orderId.uuidString])
            #expect(dead.first?.properties.headers[FailureHeaders.Name.reason]?.stringValue == "lock-timeout")
            #expect(try system.stock(of: product) == ["vendorA": 5])
        } }
    }
}
