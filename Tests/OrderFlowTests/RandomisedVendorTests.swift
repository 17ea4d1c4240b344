import Foundation
import OrderCore
import OrderStore
import TestSupport
import Testing

/// About a minute of orders, vendor restocks, vendor-sync pauses and crashes,
/// and stock-sync runs, interleaved at random; then everything drains and the
/// stock invariants must hold.
@Suite(.timeLimit(.minutes(4))) struct RandomisedVendorTests {
    @Test func randomInterleavingKeepsEveryStockInvariant() async throws {
        try await OrderSystemFixture.with(retryDelayMilliseconds: 500) { system in
            var generator = SystemRandomNumberGenerator()
            let vendors = ["vendorA", "vendorB"]
            var initial: [String: [String: Int]] = [:]  // product → vendor → units
            var products: [String] = []
            for index in 0..<3 {
                let stock = Dictionary(uniqueKeysWithValues: vendors.map { ($0, Int.random(in: 5...20, using: &generator)) })
                let id = try system.vendorProduct("rand\(index)", stock: stock)
                products.append(id)
                initial[id] = stock
            }
            var restocked: [String: [String: Int]] = [:]
            var placed: [UUID] = []
            var vendorSync: RunningServices? = try system.startVendorSync()
            var counts = (orders: 0, restocks: 0, pauses: 0, crashes: 0, syncs: 0)

            try await system.withWorker(["WORKER_CONCURRENCY": "2"]) {
                let end = ContinuousClock.now + .seconds(50)
                while ContinuousClock.now < end {
                    switch Int.random(in: 0..<100, using: &generator) {
                    case 0..<55:
                        let lines = (0..<Int.random(in: 1...2, using: &generator)).map { _ in
                            OrderLine(productId: products.randomElement(using: &generator)!, quantity: Int.random(in: 1...4, using: &generator))
                        }
                        let order = OrderPlaced(orderId: UUID(), lines: lines, idempotencyKey: nil, acceptedAt: Date())
                        try await system.publish(order)
                        placed.append(order.orderId)
                        counts.orders += 1
                    case 55..<65:
                        let vendor = vendors.randomElement(using: &generator)!, product = products.randomElement(using: &generator)!
                        let units = Int.random(in: 1...5, using: &generator)
                        _ = try OrderSystemFixture.vendorDatabase(vendor) { try VendorStore.restock(product, by: units, on: $0) }
                        restocked[product, default: [:]][vendor, default: 0] += units
                        counts.restocks += 1
                    case 65..<75:
                        if let running = vendorSync {
                            let crash = Bool.random(using: &generator)
                            await running.stop(abruptly: crash)
                            if crash { counts.crashes += 1 } else { counts.pauses += 1 }
                            vendorSync = nil
                        } else {
                            vendorSync = try system.startVendorSync()
                        }
                    case 75..<85:
                        let report = try await system.stockSyncOnce()
                        #expect(report.failed.isEmpty)
                        counts.syncs += 1
                    default:
                        try await Task.sleep(for: .milliseconds(Int.random(in: 50...250, using: &generator)))
                    }
                }
                // Drain: every order applied, every allocation settled at its vendor.
                if vendorSync == nil { vendorSync = try system.startVendorSync() }
                #expect(try await system.waitForOrders(placed, timeout: .seconds(90)).count == placed.count)
                let settled = try await system.waitForAllocationsSettled(placed, timeout: .seconds(90))
                #expect(settled["PENDING", default: 0] == 0)
                #expect(settled["CONFLICTED", default: 0] == 0, "nothing is sold outside, so nothing conflicts")
            }
            await vendorSync?.stop()
            _ = try await system.stockSyncOnce()
            print("randomised run: \(counts)")
            #expect(counts.orders > 50 && counts.syncs > 3 && counts.pauses + counts.crashes > 3)

            for product in products {
                let supplied = vendors.reduce(0) { $0 + initial[product]![$1]! + (restocked[product]?[$1] ?? 0) }
                let confirmed = try OrderSystemFixture.database { connection in
                    try connection.query(
                        """
                        SELECT coalesce(sum(a.quantity), 0)::int FROM allocations a JOIN orders o ON o.id = a.order_id
                        WHERE a.product_id = $1 AND o.status = 'CONFIRMED'
                        """, [product]
                    ).singleRow().decode(0, as: Int.self)
                }
                #expect(confirmed <= supplied, "\(product): confirmed \(confirmed) of \(supplied) ever available")
                let local = try system.stock(of: product)
                for vendor in vendors {
                    let applied = try system.appliedAllocations(vendor, product).units
                    let vendorStock = try #require(try system.vendorStock(vendor, product))
                    #expect(vendorStock == initial[product]![vendor]! + (restocked[product]?[vendor] ?? 0) - applied,
                            "\(vendor) \(product): stock = initial + restocks − applied allocations")
                    #expect(local[vendor] == vendorStock, "\(vendor) \(product): local figure = the vendor's after the final sync")
                }
            }
        }
    }
}
