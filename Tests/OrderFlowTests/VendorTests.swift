import AMQP
import Foundation
import Messaging
import OrderCore
import OrderStore
import TestSupport
import Testing

@Suite(.timeLimit(.minutes(3))) struct VendorTests {
    private func order(_ product: String, _ quantity: Int) -> OrderPlaced {
        OrderPlaced(orderId: UUID(), lines: [OrderLine(productId: product, quantity: quantity)], idempotencyKey: nil, acceptedAt: Date())
    }

    /// The seed's oversell, which must not happen here.
    @Test func stockSyncDoesNotReinflateStockVendorsHaveNotAppliedYet() async throws {
        try await OrderSystemFixture.with { system in
            let p1 = try system.vendorProduct("seed-p1", stock: ["vendorA": 10])
            let big = order(p1, 10)
            try await system.publish(big)
            #expect(try await system.withWorker { try await system.waitForOrders([big.orderId]) }[big.orderId] == "CONFIRMED")
            #expect(try system.stock(of: p1) == ["vendorA": 0])

            // vendor-sync is not running: vendorA still says 10.
            #expect(try system.vendorStock("vendorA", p1) == 10)
            let report = try await system.stockSyncOnce()
            #expect(report.failed.isEmpty)
            #expect(try system.stock(of: p1) == ["vendorA": 0], "local p1 stays 0")

            let one = order(p1, 1)
            try await system.publish(one)
            #expect(try await system.withWorker { try await system.waitForOrders([one.orderId]) }[one.orderId] == "REJECTED")

            let settled = try await system.withVendorSync { try await system.waitForAllocationsSettled([big.orderId]) }
            #expect(settled == ["APPLIED": 1])
            #expect(try system.vendorStock("vendorA", p1) == 0)
            _ = try await system.stockSyncOnce()
            #expect(try system.stock(of: p1) == ["vendorA": 0], "still 0")
        }
    }

    /// A run does not wait for ever behind a row another session holds (it would
    /// hold every product locked before it, and stall their orders, as long):
    /// it gives that vendor up after the lock timeout, and the next run syncs it.
    @Test func aRunGivesUpARowHeldTooLongAndTheNextRunSyncs() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.vendorProduct("held", stock: ["vendorA": 5])
            let blocker = try StockRowLock(product)
            defer { blocker.release() }
            let started = ContinuousClock.now
            let blocked = try await system.stockSyncOnce(retryingLockTimeouts: false)
            let waited = ContinuousClock.now - started
            blocker.release()
            let failure = try #require(blocked.failed.first { $0.vendor == "vendorA" }, "\(blocked.failed)")
            #expect(failure.error.contains("55P03"), "\(failure.error)")
            #expect(waited < .seconds(30), "a run gives a held row up after \(StockSynchronizer.lockTimeoutMilliseconds) ms, not \(waited)")
            let next = try await system.stockSyncOnce()
            #expect(next.failed.isEmpty, "\(next.failed)")
            #expect(next.synced.contains { $0.vendor == "vendorA" })
        }
    }

    @Test func eighteenOfP2SplitsMostAvailableFirstAndStockRunsOut() async throws {
        try await OrderSystemFixture.with { system in
            let p2 = try system.vendorProduct("split-p2", stock: ["vendorA": 15, "vendorB": 5])
            let first = order(p2, 18), second = order(p2, 2), third = order(p2, 1)
            try await system.publish(first)
            try await system.withWorker {
                _ = try await system.waitForOrders([first.orderId])
                try await system.publish(second)
                _ = try await system.waitForOrders([second.orderId])
                try await system.publish(third)
                _ = try await system.waitForOrders([third.orderId])
            }
            #expect(try system.statuses([first.orderId, second.orderId, third.orderId]) == [
                first.orderId: "CONFIRMED", second.orderId: "CONFIRMED", third.orderId: "REJECTED",
            ])
            let details = try #require(try OrderSystemFixture.database { try OrderQueries.order(first.orderId, on: $0) })
            let split = Dictionary(details.allocations.map { ($0.vendorId, $0.quantity) }, uniquingKeysWith: +)
            #expect(split == ["vendorA": 15, "vendorB": 3], "most available first: A's 15, then 3 of B's 5")
            #expect(try system.stock(of: p2) == ["vendorA": 0, "vendorB": 0])

            // vendor-sync applies every allocation at its vendor.
            let settled = try await system.withVendorSync { try await system.waitForAllocationsSettled([first.orderId, second.orderId]) }
            #expect(settled == ["APPLIED": 3])
            #expect(try system.vendorStock("vendorA", p2) == 0)
            #expect(try system.vendorStock("vendorB", p2) == 0)
        }
    }

    @Test func aVendorSyncMessageDeliveredTwiceDecrementsOnce() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.vendorProduct("twice", stock: ["vendorA": 7])
            let placed = order(product, 3)
            try await system.publish(placed)
            _ = try await system.withWorker { try await system.waitForOrders([placed.orderId]) }
            // The vendor_sync message the worker published, delivered once and, after that one
            // settled, again: only the vendor's applied record can refuse the second copy.
            let messages = try await system.drain(system.topology.vendorSync.main)
            #expect(messages.count == 1)
            let copy = messages.map { (body: $0.body, properties: $0.properties) }
            try await system.withVendorSync {
                try await system.publish(copy, to: system.topology.vendorSync.main)
                #expect(try await system.waitForAllocationsSettled([placed.orderId]) == ["APPLIED": 1])
                try await system.publish(copy, to: system.topology.vendorSync.main)
                try await system.waitUntilTaken(system.topology.vendorSync.main)
            }
            try await system.expectSettled(system.topology.vendorSync)
            #expect(try system.vendorStock("vendorA", product) == 4, "one decrement of 3")
            #expect(try system.appliedMovements("vendorA", product).count == 1)
        }
    }

    @Test func vendorBDownPostponesItsMovementsWhileVendorAStillSyncsAndTheyApplyOnceWhenItIsBack() async throws {
        try await OrderSystemFixture.with(retryDelayMilliseconds: 500) { system in
            let shared = try system.vendorProduct("b-down", stock: ["vendorA": 6, "vendorB": 10])
            // Most available first, one after the other: B:4 (10 > 6), then A:5 (6 = 6, by vendor id), then B:3.
            let orders = [order(shared, 4), order(shared, 5), order(shared, 3)]
            try await system.withWorker {
                for placed in orders {
                    try await system.publish(placed)
                    _ = try await system.waitForOrders([placed.orderId])
                }
            }
            // Copies of B's two messages, for a careless replay later.
            let published = try await system.drain(system.topology.vendorSync.main)
            #expect(published.count == 3)
            try await system.publish(published.map { (body: $0.body, properties: $0.properties) }, to: system.topology.vendorSync.main)
            let copies = try published.filter { try VendorMovement.decode($0.body).vendorId == "vendorB" }.map { (body: $0.body, properties: $0.properties) }
            #expect(copies.count == 2)

            let broken = TestEnvironment.vendorDatabaseURLs.map { vendor in
                vendor.vendor == "vendorB" ? "vendorB=postgres://orders:orders@127.0.0.1:1/vendorbdb?connect_timeout=1" : "\(vendor.vendor)=\(vendor.url)"
            }.joined(separator: ",")
            try await system.withVendorSync(["VENDOR_DATABASE_URLS": broken, "MAX_RETRIES": "1"]) { () async throws in
                #expect(try await system.waitForAllocationsSettled([orders[1].orderId]) == ["APPLIED": 1], "vendorA synced")
                // Many rounds through the 500 ms retry queue, each of which would spend MAX_RETRIES' one
                // retry if an outage counted: it spends none, so nothing reaches the DLQ.
                try await Task.sleep(for: .seconds(6))
                #expect(try await system.depth(system.topology.vendorSync.deadLetter) == 0, "an unavailable vendor is never dead-lettered")
            }
            #expect(try system.vendorStock("vendorA", shared) == 1, "vendorA synced")
            #expect(try system.vendorStock("vendorB", shared) == 10, "vendorB untouched while down")
            let report = try await system.stockSyncOnce(["VENDOR_DATABASE_URLS": broken])
            #expect(report.synced.map(\.vendor).contains("vendorA"))
            #expect(report.failed.map(\.vendor) == ["vendorB"], "a failing vendor does not stop the others")

            // vendorB is back: its postponed movements apply; once they settled, a careless
            // replay of them changes nothing: only vendorB's applied records can refuse them.
            let settled = try await system.withVendorSync {
                let settled = try await system.waitForAllocationsSettled(orders.map(\.orderId))
                try await system.waitUntilTaken(system.topology.vendorSync.main)
                try await system.publish(copies, to: system.topology.vendorSync.main)
                try await system.waitUntilTaken(system.topology.vendorSync.main)
                return settled
            }
            try await system.expectSettled(system.topology.vendorSync)
            #expect(settled == ["APPLIED": 3])
            #expect(try system.vendorStock("vendorB", shared) == 3, "each of B's allocations applied exactly once")
            #expect(try system.appliedMovements("vendorB", shared) == (count: 2, units: 7))
        }
    }

    @Test func aVendorThatSoldElsewhereConflictsAndFlagsTheOrder() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.vendorProduct("conflict", stock: ["vendorA": 5])
            let placed = order(product, 4)
            try await system.publish(placed)
            _ = try await system.withWorker { try await system.waitForOrders([placed.orderId]) }
            // The vendor sold 3 elsewhere before hearing of our allocation.
            try OrderSystemFixture.vendorDatabase("vendorA") { try $0.query("UPDATE products SET stock = 2 WHERE id = $1", [product]) }
            let settled = try await system.withVendorSync { try await system.waitForAllocationsSettled([placed.orderId]) }
            #expect(settled == ["CONFLICTED": 1])
            let details = try #require(try OrderSystemFixture.database { try OrderQueries.order(placed.orderId, on: $0) })
            #expect(details.reviewRequired)
            #expect(details.reviewReason?.contains(product) == true)
            #expect(try system.vendorStock("vendorA", product) == 2, "nothing applied")
            #expect(try await system.depth(system.topology.vendorSync.deadLetter) == 0, "a conflict is not retried")
        }
    }
}
