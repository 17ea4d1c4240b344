import ChannelSync
import Foundation
import OrderCore
import Shopify
import TestSupport
import Testing

/// Reconciliation of the channel's orders: a Shopify order whose webhook never
/// came is found in the shop's order list and becomes an order, exactly once,
/// whatever else already knows it.
@Suite("Channel order reconciliation")
struct ChannelReconciliationTests {
    @Test func anOrderWhoseWebhookNeverCameIsFoundAndAppliedOnce() async throws {
        try await ChannelSyncFixture.with { fixture in
            let system = fixture.system
            let mapped = try fixture.mappedProduct("rec", stock: 100)
            let ids = try fixture.orderIDs
            let base = Int64.random(in: 1_000_000_000...9_000_000_000)
            func shopifyOrder(_ offset: Int64, quantity: Int, cancelled: Bool = false) -> (json: String, order: ShopifyOrder) {
                let json = ShopifyStandIn.order(id: base + offset, name: "#\(offset)", sku: mapped.sku, quantity: quantity, cancelled: cancelled)
                return (json, try! ShopifyOrder.parse(Array(json.utf8)))
            }
            let lost = shopifyOrder(1, quantity: 2)  // only in the shop's list
            let known = shopifyOrder(2, quantity: 1)  // its webhook came and the worker applied it
            let queued = shopifyOrder(3, quantity: 3)  // its webhook came; the message is still queued
            let cancelledHere = shopifyOrder(4, quantity: 4, cancelled: true)  // applied here, then cancelled in the shop
            let cancelledThere = shopifyOrder(5, quantity: 5, cancelled: true)  // cancelled in the shop before it reached us
            for entry in [lost, known, queued, cancelledHere, cancelledThere] { fixture.standIn.addOrder(entry.json) }
            fixture.standIn.setPageSize(2)
            func placed(_ order: ShopifyOrder) throws -> OrderPlaced {
                try order.orderPlaced(shop: fixture.shop, ids: ids, products: [mapped.sku: mapped.product], acceptedAt: Date())
            }
            let id = { (order: ShopifyOrder) in order.orderId(shop: fixture.shop, ids: ids) }

            // What the webhooks did: two orders applied, one of them cancelled in the shop since.
            try await system.withWorker {
                try await system.publish(try placed(known.order))
                try await system.publish(try placed(cancelledHere.order))
                let statuses = try await system.waitForOrders([id(known.order), id(cancelledHere.order)])
                #expect(statuses[id(known.order)] == "CONFIRMED" && statuses[id(cancelledHere.order)] == "CONFIRMED")
            }
            try await system.publish(try placed(queued.order))
            #expect(try fixture.available(mapped.product) == 95)

            try await fixture.withChannelSync { app in
                let report = try await app.orders.reconcile(lookback: .seconds(3600))
                #expect(report == .init(listed: 5, enqueued: 2, cancelled: 1, malformed: 0))
                let listCalls = fixture.standIn.requests(to: "orders.json")
                #expect(listCalls.count == 3, "every page of the list is read")
                #expect(listCalls.dropFirst().map { $0.parameter("page_info") } == ["cursor2", "cursor4"])
                #expect(listCalls.first?.headers["x-shopify-access-token"] == ShopifyStandIn.token)
                #expect(try system.statuses([id(cancelledHere.order)])[id(cancelledHere.order)] == "CANCELLED")
                #expect(try await system.depth(system.topology.orders.main) == 3, "the still-queued message, and the two enqueued")
            }
            // The enqueued message is the webhook's: same id, idempotency key, channel reference, properties.
            let messages = try await system.drain(system.topology.orders.main)
            let enqueued = try messages.map { try OrderPlaced.decode($0.body) }
            #expect(Set(enqueued.map(\.orderId)) == [id(lost.order), id(queued.order)])
            let found = try #require(enqueued.first { $0.orderId == id(lost.order) && $0.channel != nil })
            #expect(found.idempotencyKey == "shopify:\(fixture.shop):\(base + 1)")
            #expect(found.channel == ChannelOrderReference(channel: "shopify", shop: fixture.shop, orderId: "\(base + 1)", orderName: "#1"))
            #expect(found.lines == [OrderLine(productId: mapped.product, quantity: 2)])
            let properties = try #require(messages.first { (try? OrderPlaced.decode($0.body))?.orderId == id(lost.order) }?.properties)
            #expect(properties.messageID == id(lost.order).uuidString.lowercased() && properties.type == OrderPlaced.messageType && properties.appID == "channel-sync")
            #expect(properties.deliveryMode == .persistent)
            try await system.publish(messages.map { (body: $0.body, properties: $0.properties) }, to: system.topology.orders.main)

            // The worker applies them: the queued order arrived twice and is one order, its stock taken once.
            try await system.withWorker {
                let statuses = try await system.waitForOrders([id(lost.order), id(queued.order)])
                #expect(statuses[id(lost.order)] == "CONFIRMED" && statuses[id(queued.order)] == "CONFIRMED")
                try await system.waitUntilTaken(system.topology.orders.main)
            }
            try await system.expectSettled(system.topology.orders)
            #expect(try system.statuses([id(cancelledThere.order)]).isEmpty, "an order the shop cancelled before it reached us is not made")
            #expect(try fixture.available(mapped.product) == 100 - 1 - 2 - 3, "each order's stock taken once; the cancelled one's given back")

            // A second pass finds nothing to do.
            try await fixture.withChannelSync { app in
                let report = try await app.orders.reconcile(lookback: .seconds(3600))
                #expect(report == .init(listed: 5, enqueued: 0, cancelled: 0, malformed: 0))
                #expect(try await system.depth(system.topology.orders.main) == 0)
            }
        }
    }

    /// An order recorded under its Shopify id is not enqueued again, even when
    /// its id was derived from another spelling of the shop (a
    /// SHOPIFY_SHOP_DOMAIN that differs from what the webhooks name): that would
    /// be a second order, its stock taken twice and shipped twice.
    @Test func anOrderRecordedUnderAnotherShopSpellingIsNotEnqueuedAgain() async throws {
        try await ChannelSyncFixture.with { fixture in
            let system = fixture.system
            let mapped = try fixture.mappedProduct("spelling", stock: 10)
            let ids = try fixture.orderIDs
            let json = ShopifyStandIn.order(id: Int64.random(in: 1_000_000_000...9_000_000_000), name: "#7", sku: mapped.sku, quantity: 1, cancelled: false)
            fixture.standIn.addOrder(json)
            let order = try ShopifyOrder.parse(Array(json.utf8))
            let otherShop = "other-" + fixture.shop
            let recorded = order.orderId(shop: otherShop, ids: ids)
            #expect(recorded != order.orderId(shop: fixture.shop, ids: ids))
            try await system.withWorker {
                try await system.publish(try order.orderPlaced(shop: otherShop, ids: ids, products: [mapped.sku: mapped.product], acceptedAt: Date()))
                #expect(try await system.waitForOrders([recorded])[recorded] == "CONFIRMED")
            }
            try await fixture.withChannelSync { app in
                let report = try await app.orders.reconcile(lookback: .seconds(3600))
                #expect(report == .init(listed: 1, enqueued: 0, cancelled: 0, malformed: 0))
                #expect(try await system.depth(system.topology.orders.main) == 0)
            }
            #expect(try fixture.available(mapped.product) == 9)
        }
    }
}
