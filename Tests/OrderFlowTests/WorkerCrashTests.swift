import Foundation
import OrderCore
import TestSupport
import Testing

@Suite(.timeLimit(.minutes(4))) struct WorkerCrashTests {
    /// SIGKILL in the middle of 2,000 orders, then a restart: every order is
    /// applied exactly once — one row each, and stock arithmetic exact.
    @Test func killedWorkerAppliesEveryOrderExactlyOnceAfterRestart() async throws {
        try await OrderSystemFixture.with { system in
            let stockA = 600, stockB = 400
            let product = try system.product("crash", stock: ["vendorA": stockA, "vendorB": stockB])
            let other = try system.product("crash-other", stock: ["vendorA": 100_000])
            let orders = (0..<2000).map { index in
                OrderPlaced(
                    orderId: UUID(),
                    lines: index % 3 == 0
                        ? [OrderLine(productId: other, quantity: 1), OrderLine(productId: product, quantity: 1)]
                        : [OrderLine(productId: product, quantity: 1)],
                    idempotencyKey: nil, acceptedAt: Date())
            }
            let channel = try await system.broker.openConfirmChannel()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for slice in stride(from: 0, to: orders.count, by: 100) {
                    group.addTask {
                        for order in orders[slice..<min(slice + 100, orders.count)] {
                            try await channel.publish(order.encoded(), routingKey: system.topology.orders.main, mandatory: true,
                                                      properties: .init(contentType: "application/json", deliveryMode: .persistent, messageID: order.orderId.uuidString))
                        }
                    }
                }
                try await group.waitForAll()
            }
            let ids = orders.map(\.orderId)
            let environment = system.environment.merging(["LOG_LEVEL": "warning", "WORKER_CONCURRENCY": "4", "WORKER_PREFETCH": "100", "WORKER_BATCH_SIZE": "50"]) { $1 }

            let first = try ChildProcess("order-worker", environment: environment)
            // Kill it once a good part, but not all, is applied.
            let deadline = ContinuousClock.now + .seconds(90)
            var applied = 0
            while applied < 300, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
                applied = try system.statuses(ids).count
            }
            first.kill(SIGKILL)
            _ = await first.waitForExit()
            let atKill = try system.statuses(ids).count
            #expect(atKill > 0 && atKill < orders.count, "killed mid-stream (\(atKill) applied)")

            let second = try ChildProcess("order-worker", environment: environment)
            let statuses = try await system.waitForOrders(ids, timeout: .seconds(120))
            second.kill(SIGTERM)
            #expect(await second.waitForExit() == 0, "SIGTERM exits 0: \(second.log.suffix(500))")

            #expect(statuses.count == orders.count, "one row per order")
            let confirmed = orders.filter { statuses[$0.orderId] == "CONFIRMED" }
            let unitsOfProduct = confirmed.count  // every order takes one unit of `product`
            #expect(confirmed.count == stockA + stockB, "exactly the stock was sold")
            let remaining = try system.stock(of: product)
            #expect(remaining.values.reduce(0, +) == stockA + stockB - unitsOfProduct)
            #expect(remaining.values.allSatisfy { $0 == 0 })
            let otherSold = confirmed.filter { $0.lines.count == 2 }.count
            #expect(try system.stock(of: other) == ["vendorA": 100_000 - otherSold])
            let allocations = try OrderSystemFixture.database { connection in
                try connection.query("SELECT coalesce(sum(quantity), 0)::int FROM stock_movements WHERE product_id = $1", [product]).rows[0].decode(0, as: Int.self)
            }
            #expect(allocations == unitsOfProduct, "one allocation set per order")
            #expect(try await system.depth(system.topology.orders.deadLetter) == 0)
        }
    }
}
