import AMQP
import Foundation
import Logging
import Messaging
import OrderCore
import OrderStore
import Postgres
import TestSupport
import Testing
import VendorSync

/// vendor-sync's settling of a movement whose retries are spent needs ordersdb:
/// with ordersdb away it throws ``DependencyUnavailable`` (the worker then holds
/// the window and calls it again before the copy goes to the DLQ), and once
/// ordersdb is back the same call settles the movement.
@Suite(.timeLimit(.minutes(2))) struct VendorSyncOutageTests {
    static let logger: Logger = {
        var logger = Logger(label: "vendor-sync-outage-tests")
        logger.logLevel = .critical
        return logger
    }()

    @Test func aSpentAllocationIsSettledOnlyOnceOrdersdbIsBack() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.vendorProduct("spent", stock: ["vendorA": 10])
            let placed = OrderPlaced(orderId: UUID(), lines: [OrderLine(productId: product, quantity: 2)], idempotencyKey: nil, acceptedAt: Date())
            try await system.publish(placed)
            let status = try await system.withWorker { try await system.waitForOrders([placed.orderId]) }[placed.orderId]
            try #require(status == "CONFIRMED")
            let messages = try await system.drain(system.topology.vendorSync.main)
            try #require(messages.count == 1)

            let proxy = try await FaultProxy(targetPort: URLComponents(string: TestEnvironment.databaseURL)?.port ?? 5432)
            let orders = PostgresPool(
                configuration: try PostgresConfiguration(url: proxy.url(replacingHostAndPortOf: TestEnvironment.databaseURL)), size: 1, logger: Self.logger)
            let vendorURL = try #require(TestEnvironment.vendorDatabaseURLs.first { $0.vendor == "vendorA" }?.url)
            let vendorA = PostgresPool(configuration: try PostgresConfiguration(url: vendorURL), size: 1, logger: Self.logger)
            let handler = VendorSyncHandler(
                orders: orders, vendors: ["vendorA": vendorA],
                routing: OutboxRouting(
                    orderEvents: system.topology.orderEvents, vendorSyncQueue: system.topology.vendorSync.main,
                    paymentsQueue: system.topology.payments.main, stockLevels: StockLevelPolicy(threshold: 5)),
                breakers: VendorBreakers(vendors: ["vendorA"], policy: CircuitBreaker.Policy(failureThreshold: 3, openDuration: .seconds(5)), logger: Self.logger))
            do {
                await proxy.cut()
                let away = await #expect(throws: DependencyUnavailable.self) {
                    try await handler.retriesExhausted(messages[0], reason: "allocation-waits-for-restock", logger: Self.logger)
                }
                #expect(away?.dependency == DependencyUnavailable.ordersDatabase)
                #expect(try movementStatuses(placed.orderId) == ["PENDING"], "nothing settled while ordersdb is away")

                try await proxy.restore()
                try await handler.retriesExhausted(messages[0], reason: "allocation-waits-for-restock", logger: Self.logger)
                #expect(try movementStatuses(placed.orderId) == ["CONFLICTED"], "settled as refused once ordersdb is back")
            } catch {
                await shutdown(orders, vendorA, proxy)
                throw error
            }
            await shutdown(orders, vendorA, proxy)
        }
    }

    private func movementStatuses(_ orderId: UUID) throws -> [String] {
        try OrderSystemFixture.database { connection in
            try connection.query("SELECT status FROM stock_movements WHERE order_id = $1 AND kind = 'allocate'", [orderId])
                .rows.map { try $0.decode(0, as: String.self) }
        }
    }

    private func shutdown(_ orders: PostgresPool, _ vendor: PostgresPool, _ proxy: FaultProxy) async {
        await orders.shutdown()
        await vendor.shutdown()
        await proxy.shutdown()
    }
}
