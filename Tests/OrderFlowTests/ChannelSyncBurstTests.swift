import ChannelSync
import Foundation
import Messaging
import OrderCore
import TestSupport
import Testing

/// A burst of orders while channel-sync runs: the channel ends with our
/// figures within one push interval of the last order, having been sent far
/// fewer figures than there were stock changes.
@Suite("Channel stock sync under a burst of orders")
struct ChannelSyncBurstTests {
    static let orders = 1000
    static let interval = Duration.milliseconds(500)

    @Test func theChannelCatchesUpWithinOneIntervalWithFewPushes() async throws {
        try await ChannelSyncFixture.with { fixture in
            let system = fixture.system
            let products = try (1...3).map { try fixture.mappedProduct("burst\($0)", stock: 400, vendor: fixture.ownVendor) }
            let items = Set(products.map(\.item))
            let burst = (0..<Self.orders).map { index in
                OrderPlaced(orderId: UUID(), lines: [OrderLine(productId: products[index % products.count].product, quantity: 1)], idempotencyKey: nil, acceptedAt: Date())
            }
            let overrides = ["CHANNEL_PUSH_INTERVAL_MS": "500"]
            try await fixture.withChannelSync(overrides, periodic: true) { app in
                // The first pass tells the channel the starting figures.
                try await Self.waitUntil(.seconds(10)) { products.allSatisfy { fixture.standIn.levels[$0.item] == 400 } }
                let before = fixture.standIn.pushes(of: items).count
                let burstStarted = ContinuousClock.now
                try await system.withWorker {
                    try await system.publish(burst.map { (body: $0.encoded(), properties: $0.amqpProperties(appID: "test")) }, to: system.topology.orders.main)
                    let statuses = try await system.waitForOrders(burst.map(\.orderId), timeout: .seconds(120))
                    let applied = ContinuousClock.now
                    #expect(statuses.count == Self.orders && statuses.values.allSatisfy { $0 == "CONFIRMED" })

                    let ours = try Dictionary(uniqueKeysWithValues: products.map { ($0.item, try fixture.available($0.product)) })
                    #expect(ours.values.reduce(0, +) == 1200 - Self.orders)
                    try await Self.waitUntil(.seconds(10)) { fixture.standIn.levels.filter { items.contains($0.key) } == ours }
                    let caughtUp = ContinuousClock.now - applied
                    let pushes = fixture.standIn.pushes(of: items).count - before
                    print("channel burst: \(Self.orders) stock changes, \(pushes) pushes; channel equal to ours \(caughtUp) after the last order was applied")
                    #expect(fixture.standIn.levels.filter { items.contains($0.key) } == ours)
                    // One interval, and the time one pass of three pushes takes on a loaded machine.
                    #expect(caughtUp <= Self.interval + .seconds(1), "the channel caught up \(caughtUp) after the last order")
                    // Coalesced: at most one push per product per interval that passed
                    // (the count grows with how long a loaded machine takes over the burst),
                    // and far fewer than the stock changes.
                    let intervals = Int((ContinuousClock.now - burstStarted) / Self.interval) + 2
                    #expect(pushes <= products.count * intervals, "\(pushes) pushes in \(intervals) intervals for \(products.count) products")
                    #expect(pushes <= Self.orders / 4, "\(pushes) pushes for \(Self.orders) stock changes")
                    #expect(app.breaker.state == .closed)
                }
            }
        }
    }

    private static func waitUntil(_ timeout: Duration, _ condition: () throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while try !condition(), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
