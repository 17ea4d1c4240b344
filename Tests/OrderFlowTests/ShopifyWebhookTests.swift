import AMQP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Messaging
import OrderAPI
import OrderCore
import OrderStore
import ServiceSupport
import Shopify
import TestSupport
import Testing

/// `POST /webhooks/shopify/orders` with the real order-api and order-worker:
/// a signed Shopify order becomes one order carrying its Shopify reference,
/// however often it is delivered; anything unsigned changes nothing; what
/// cannot become an order is rejected or dead-lettered, never lost.
@Suite(.timeLimit(.minutes(3))) struct ShopifyWebhookTests {
    static let secret = "shpss_test_\(UUID().uuidString)"
    static let signature = ShopifyWebhookSignature(secret: secret)

    // MARK: Sending webhooks

    /// What one delivery carries besides its body.
    struct Delivery {
        var topic = "orders/create"
        var shop: String?
        var webhookId: String? = UUID().uuidString.lowercased()
        /// nil: signed with the endpoint's secret.
        var signature: String??
    }

    /// A shop of its own per test: derived order ids never meet another run's.
    static func uniqueShop() -> String { "t\(UUID().uuidString.prefix(8).lowercased()).myshopify.com" }

    /// A random Shopify order id (they exceed 2^53 in practice).
    static func shopifyId() -> Int64 { Int64.random(in: 1_000_000_000_000_000...9_000_000_000_000_000) }

    /// An order as Shopify's `orders/create` body has it (only the fields the system reads, and a few it ignores).
    static func orderBody(id: Int64, name: String = "#1001", lines: [(sku: String?, quantity: Int)], cancelReason: String? = nil) -> [UInt8] {
        let items = lines.map { line in
            #"{"id":\#(Int64.random(in: 1...Int64.max)),"sku":\#(line.sku.map { "\"\($0)\"" } ?? "null"),"quantity":\#(line.quantity),"price":"12.50","title":"A thing"}"#
        }.joined(separator: ",")
        let cancelled = cancelReason.map { #","cancelled_at":"2026-01-01T10:00:00-05:00","cancel_reason":"\#($0)""# } ?? ""
        let json = """
            {"id":\(id),"name":"\(name)","created_at":"2026-01-01T09:00:00-05:00","currency":"EUR","financial_status":"paid",\
            "total_price":"25.00","location_id":655441491,"email":"someone@example.com","line_items":[\(items)]\(cancelled)}
            """
        return Array(json.utf8)
    }

    static func headers(_ body: [UInt8], _ delivery: Delivery) -> HTTPFields {
        var headers: HTTPFields = [.contentType: "application/json"]
        headers[HTTPField.Name("X-Shopify-Topic")!] = delivery.topic
        if let shop = delivery.shop { headers[HTTPField.Name("X-Shopify-Shop-Domain")!] = shop }
        if let id = delivery.webhookId { headers[HTTPField.Name("X-Shopify-Webhook-Id")!] = id }
        let signature = delivery.signature ?? Self.signature.header(for: body)
        if let signature { headers[HTTPField.Name("X-Shopify-Hmac-Sha256")!] = signature }
        return headers
    }

    static func deliver(_ body: [UInt8], _ delivery: Delivery, to client: some TestClientProtocol) async throws -> HTTPResult {
        try await client.call(.post, "/webhooks/shopify/orders", headers: headers(body, delivery), body: body)
    }

    static func app(_ system: OrderSystemFixture, secret: String? = ShopifyWebhookTests.secret) throws -> some ApplicationProtocol {
        var environment = system.environment
        environment["SHOPIFY_WEBHOOK_SECRET"] = secret
        var logger = Logger(label: "test-shopify-webhooks")
        logger.logLevel = .critical
        return try buildOrderAPI(configuration: OrderAPIConfiguration(environment: EnvironmentConfiguration(environment)), logger: logger)
    }

    /// The order id a Shopify order of `shop` gets: derived from its idempotency key, `shopify:<shop>:<id>`.
    static func orderId(_ system: OrderSystemFixture, shop: String, id: Int64) throws -> UUID {
        try system.apiConfiguration().orderIDs.make(idempotencyKey: "shopify:\(shop):\(id)")
    }

    static func outcome(ofWebhook id: String) throws -> String? {
        try OrderSystemFixture.database { connection in
            try connection.query("SELECT outcome FROM shopify_webhook_events WHERE webhook_id = $1", [id]).first?.decode(0, as: String.self)
        }
    }

    static func reason(of id: UUID) throws -> String? {
        try OrderSystemFixture.database { try $0.query("SELECT reason FROM orders WHERE id = $1", [id]).first?.decode(0, as: String?.self) }
    }

    // MARK: Refusals

    @Test func withoutASecretEveryDeliveryIsRefusedWith503() async throws {
        try await OrderSystemFixture.with { system in
            let shop = Self.uniqueShop()
            let body = Self.orderBody(id: Self.shopifyId(), lines: [("p1", 1)])
            let delivery = Delivery(shop: shop)
            try await Self.app(system, secret: nil).test(.router) { client in
                let response = try await Self.deliver(body, delivery, to: client)
                #expect(response.status == 503, "\(response.text)")
                #expect(response.contentType == "application/problem+json")
                #expect(response.json["code"] as? String == "webhooks-not-configured")
            }
            #expect(try Self.outcome(ofWebhook: delivery.webhookId!) == nil)
            #expect(try await system.depth(system.topology.orders.main) == 0)
        }
    }

    /// A delivery without the headers that say what it is: 400, nothing taken.
    @Test func missingDeliveryHeadersAre400s() async throws {
        try await OrderSystemFixture.with { system in
            let shop = Self.uniqueShop()
            let body = Self.orderBody(id: Self.shopifyId(), lines: [("p1", 1)])
            try await Self.app(system).test(.router) { client in
                let cases: [(String, Delivery, String)] = [
                    ("no shop", Delivery(shop: nil), "X-Shopify-Shop-Domain"),
                    ("no webhook id", Delivery(shop: shop, webhookId: nil), "X-Shopify-Webhook-Id"),
                    ("no topic", Delivery(topic: "", shop: shop), "X-Shopify-Topic"),
                ]
                for (name, delivery, header) in cases {
                    let response = try await Self.deliver(body, delivery, to: client)
                    #expect(response.status == 400, "\(name): \(response.text)")
                    #expect(response.contentType == "application/problem+json", "\(name)")
                    let fields = (response.json["errors"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String }
                    #expect(fields == [header], "\(name)")
                }
            }
            #expect(try await system.depth(system.topology.orders.main) == 0)
            #expect(try await system.depth(system.topology.orders.deadLetter) == 0)
        }
    }

    /// Signed with another secret, unsigned, altered after signing, or a
    /// signature that is not one: 401 before the body is read, nothing taken.
    @Test func badSignaturesAre401sAndTakeNothing() async throws {
        try await OrderSystemFixture.with { system in
            let shop = Self.uniqueShop()
            let body = Self.orderBody(id: Self.shopifyId(), lines: [("p1", 1)])
            var altered = body
            altered[altered.firstIndex(of: UInt8(ascii: "1"))!] = UInt8(ascii: "2")
            let cases: [(String, [UInt8], String?)] = [
                ("other secret", body, ShopifyWebhookSignature(secret: "another-secret").header(for: body)),
                ("missing", body, nil),
                ("altered body", altered, Self.signature.header(for: body)),
                ("not base64 of 32 bytes", body, "c2hvcnQ="),
                ("malformed body, wrong signature", Array("not json".utf8), Self.signature.header(for: body)),
            ]
            let deliveries = cases.map { _ in Delivery(shop: shop) }
            try await Self.app(system).test(.router) { client in
                for ((name, payload, signature), unsigned) in zip(cases, deliveries) {
                    var delivery = unsigned
                    delivery.signature = .some(signature)
                    let response = try await Self.deliver(payload, delivery, to: client)
                    #expect(response.status == 401, "\(name): \(response.text)")
                    #expect(response.json["code"] as? String == "invalid-signature", "\(name)")
                }
            }
            for delivery in deliveries { #expect(try Self.outcome(ofWebhook: delivery.webhookId!) == nil) }
            #expect(try await system.depth(system.topology.orders.main) == 0)
            #expect(try await system.depth(system.topology.orders.deadLetter) == 0)
        }
    }

    @Test func aClientCannotTakeAShopifyOrdersIdempotencyKey() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.product("p", stock: ["vendorA": 5])
            try await Self.app(system).test(.router) { client in
                let response = try await client.postOrder(
                    #"{"productId":"\#(product)","quantity":1}"#, key: "shopify:\(Self.uniqueShop()):\(Self.shopifyId())")
                #expect(response.status == 400, "\(response.text)")
                #expect((response.json["errors"] as? [[String: Any]])?.first?["field"] as? String == "Idempotency-Key")
                #expect((response.json["detail"] as? String)?.contains("shopify:") == true)
            }
            #expect(try await system.depth(system.topology.orders.main) == 0)
        }
    }

    @Test func anotherTopicIsIgnored() async throws {
        try await OrderSystemFixture.with { system in
            let body = Self.orderBody(id: Self.shopifyId(), lines: [("p1", 1)])
            try await Self.app(system).test(.router) { client in
                let response = try await Self.deliver(body, Delivery(topic: "orders/updated", shop: Self.uniqueShop()), to: client)
                #expect(response.status == 200, "\(response.text)")
                #expect(response.json["status"] as? String == "ignored")
            }
            #expect(try await system.depth(system.topology.orders.main) == 0)
        }
    }

    // MARK: Orders

    /// Delivered twice under one webhook id and once more under a new one: one
    /// message per webhook id, one order, its stock taken once, its SKU mapped
    /// to the product, and its Shopify reference on the row and in `GET /orders/{id}`.
    @Test func aShopifyOrderIsOneOrderWithItsReference() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.product("mapped", stock: ["vendorA": 10])
            let sku = "SKU-\(UUID().uuidString.prefix(8))"
            try OrderSystemFixture.database { try SKUMappings.set(sku: sku, channel: "shopify", productId: product, inventoryItemId: nil, on: $0) }
            let (shop, shopifyId) = (Self.uniqueShop(), Self.shopifyId())
            let body = Self.orderBody(id: shopifyId, name: "#4711", lines: [(sku, 2), (sku, 1)])
            let first = Delivery(shop: shop)
            let expectedId = try Self.orderId(system, shop: shop, id: shopifyId)
            try await Self.app(system).test(.router) { client in
                var answers: [HTTPResult] = []
                for delivery in [first, first, Delivery(shop: shop)] { answers.append(try await Self.deliver(body, delivery, to: client)) }
                #expect(answers.map(\.status) == [200, 200, 200], "\(answers.map(\.text))")
                #expect(answers.map { $0.json["status"] as? String } == ["enqueued", "duplicate", "enqueued"])
                #expect(answers[0].json["orderId"] as? String == expectedId.uuidString.lowercased())
                #expect(answers[2].json["orderId"] as? String == expectedId.uuidString.lowercased())

                let messages = try await system.drain(system.topology.orders.main)
                #expect(messages.count == 2)
                let placed = try messages.map { try OrderPlaced.decode($0.body) }
                #expect(placed.allSatisfy { $0.orderId == expectedId && $0.lines == [OrderLine(productId: product, quantity: 3)] })
                #expect(placed.first?.channel == ChannelOrderReference(channel: "shopify", shop: shop, orderId: String(shopifyId), orderName: "#4711"))
                #expect(messages.allSatisfy { $0.properties.correlationID == expectedId.uuidString.lowercased() && $0.properties.isPersistent })
                #expect(messages.first?.properties.type == OrderPlaced.messageType)

                try await system.publish(messages.map { ($0.body, $0.properties) }, to: system.topology.orders.main)
                try await system.withWorker { () async throws in
                    #expect(try await system.waitForOrders([expectedId]) == [expectedId: "CONFIRMED"])
                    try await system.waitUntilTaken(system.topology.orders.main)
                }
                #expect(try system.stock(of: product) == ["vendorA": 7])

                let shown = try await client.call(.get, "/orders/\(expectedId.uuidString.lowercased())")
                let channel = try #require(shown.json["channel"] as? [String: Any], "\(shown.text)")
                #expect(channel["name"] as? String == "shopify")
                #expect(channel["shop"] as? String == shop)
                #expect(channel["orderId"] as? String == String(shopifyId))
                #expect(channel["orderName"] as? String == "#4711")
                #expect(shown.json["idempotencyKey"] as? String == "shopify:\(shop):\(shopifyId)")
            }
            #expect(try Self.outcome(ofWebhook: first.webhookId!) == "enqueued")
        }
    }

    /// An order placed through the API has no channel in its answer.
    @Test func anAPIOrderShowsNoChannel() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.product("api", stock: ["vendorA": 3])
            try await Self.app(system).test(.router) { client in
                let accepted = try await client.postOrderUntilAnswered(#"{"productId":"\#(product)","quantity":1}"#)
                let id = try #require(UUID(uuidString: accepted.json["orderId"] as? String ?? ""))
                try await system.withWorker { () async throws in
                    #expect(try await system.waitForOrders([id]) == [id: "CONFIRMED"])
                }
                let shown = try await client.call(.get, "/orders/\(id.uuidString.lowercased())")
                #expect(shown.json["status"] as? String == "CONFIRMED")
                #expect(shown.json.keys.contains("channel") == false, "\(shown.text)")
            }
        }
    }

    /// An order whose retries were spent is recorded FAILED with its reference too.
    @Test func aFailedChannelOrderKeepsItsReference() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.product("failed", stock: ["vendorA": 1])
            let reference = ChannelOrderReference(channel: "shopify", shop: Self.uniqueShop(), orderId: String(Self.shopifyId()), orderName: "#9")
            let order = OrderPlaced(
                orderId: try system.apiConfiguration().orderIDs.make(idempotencyKey: reference.idempotencyKey),
                lines: [OrderLine(productId: product, quantity: 1)], idempotencyKey: reference.idempotencyKey, acceptedAt: Date(), channel: reference)
            let settings = try system.applierSettings
            try OrderSystemFixture.database { try OrderApplier.markFailed(order, reason: "database-unavailable", settings: settings, on: $0) }
            let details = try #require(try OrderSystemFixture.database { try OrderQueries.order(order.orderId, on: $0) })
            #expect(details.status == .failed)
            let channel = try #require(details.channel)
            #expect([channel.name, channel.shop, channel.orderId, channel.orderName] == ["shopify", reference.shop, reference.orderId, "#9"])
        }
    }

    /// A SKU that names no product reaches the worker, which rejects the order and says which.
    @Test func anUnknownSKUIsRejectedNamingIt() async throws {
        try await OrderSystemFixture.with { system in
            let (shop, shopifyId) = (Self.uniqueShop(), Self.shopifyId())
            let sku = "\(system.prefix)no-such-sku"
            let id = try Self.orderId(system, shop: shop, id: shopifyId)
            try await Self.app(system).test(.router) { client in
                let response = try await Self.deliver(Self.orderBody(id: shopifyId, lines: [(sku, 1)]), Delivery(shop: shop), to: client)
                #expect(response.json["status"] as? String == "enqueued", "\(response.text)")
            }
            try await system.withWorker { () async throws in
                #expect(try await system.waitForOrders([id]) == [id: "REJECTED"])
            }
            let reason = try #require(try Self.reason(of: id))
            #expect(reason.contains(sku), "\(reason)")
            let channel = try OrderSystemFixture.database { connection in
                try connection.query("SELECT channel, channel_shop, channel_order_id FROM orders WHERE id = $1", [id]).first.map {
                    [try $0.decode(0, as: String.self), try $0.decode(1, as: String.self), try $0.decode(2, as: String.self)]
                }
            }
            #expect(channel == ["shopify", shop, String(shopifyId)])
        }
    }

    /// A signed body no order can be made of answers 200 (Shopify stops
    /// redelivering) and lies in the orders DLQ with the reason, as a worker would have put it.
    @Test func aMalformedOrderIsDeadLetteredWithItsReason() async throws {
        try await OrderSystemFixture.with { system in
            let shop = Self.uniqueShop()
            let bodies: [(String, [UInt8])] = [
                ("no line items", Array(##"{"id":\##(Self.shopifyId()),"name":"#1","line_items":[]}"##.utf8)),
                ("a line without a SKU", Self.orderBody(id: Self.shopifyId(), lines: [(nil, 1)])),
                ("not JSON", Array("{\"id\":".utf8)),
            ]
            let deliveries = bodies.map { _ in Delivery(shop: shop) }
            try await Self.app(system).test(.router) { client in
                for ((name, body), delivery) in zip(bodies, deliveries) {
                    let response = try await Self.deliver(body, delivery, to: client)
                    #expect(response.status == 200, "\(name): \(response.text)")
                    #expect(response.json["status"] as? String == "dead-lettered", "\(name)")
                    let again = try await Self.deliver(body, delivery, to: client)
                    #expect(again.json["status"] as? String == "duplicate", "\(name)")
                }
            }
            #expect(try await system.depth(system.topology.orders.main) == 0)
            let letters = try await system.drain(system.topology.orders.deadLetter)
            #expect(letters.count == bodies.count)
            for ((name, body), (delivery, letter)) in zip(bodies, zip(deliveries, letters)) {
                #expect(letter.body == body, "\(name): the body as Shopify sent it")
                let failure = FailureHeaders(letter.properties.headers)
                #expect(failure.reason == "malformed-shopify-order", "\(name)")
                #expect(failure.originalQueue == system.topology.orders.main, "\(name)")
                #expect(failure.failedBy == "order-api", "\(name)")
                #expect(failure.failedAt != nil, "\(name)")
                #expect(failure.message?.isEmpty == false, "\(name)")
                #expect(letter.properties.messageID == delivery.webhookId, "\(name)")
                #expect(letter.properties.headers["x-shopify-shop-domain"]?.stringValue == shop, "\(name)")
                #expect(try Self.outcome(ofWebhook: delivery.webhookId!) == "dead-lettered", "\(name)")
            }
            #expect(FailureHeaders(letters[1].properties.headers).message?.contains("sku") == true)
        }
    }

    // MARK: Cancels

    /// A cancel before the worker applied the order: the order is CANCELLED
    /// and takes no stock when it arrives.
    @Test func aCancelBeforeTheOrderIsAppliedTakesNothing() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.product("early", stock: ["vendorA": 4])
            let (shop, shopifyId) = (Self.uniqueShop(), Self.shopifyId())
            let id = try Self.orderId(system, shop: shop, id: shopifyId)
            try await Self.app(system).test(.router) { client in
                let created = try await Self.deliver(Self.orderBody(id: shopifyId, lines: [(product, 2)]), Delivery(shop: shop), to: client)
                #expect(created.json["status"] as? String == "enqueued")
                let cancelled = try await Self.deliver(
                    Self.orderBody(id: shopifyId, lines: [(product, 2)], cancelReason: "customer"), Delivery(topic: "orders/cancelled", shop: shop),
                    to: client)
                #expect(cancelled.status == 200, "\(cancelled.text)")
                #expect(cancelled.json["status"] as? String == "cancelled")
                #expect(cancelled.json["orderId"] as? String == id.uuidString.lowercased())
            }
            #expect(try system.statuses([id]) == [id: "CANCELLED"])
            try await system.withWorker { () async throws in
                try await system.waitUntilTaken(system.topology.orders.main)
            }
            #expect(try system.statuses([id]) == [id: "CANCELLED"])
            #expect(try system.stock(of: product) == ["vendorA": 4])
            let history = try OrderSystemFixture.database { try OrderHistory.transitions(of: id, on: $0) }
            #expect(history.map(\.to) == [.cancelled])
            #expect(history.first?.reason == "shopify: customer")
            #expect(history.first?.actor == .system)
            let channel = try OrderSystemFixture.database { connection in
                try connection.query("SELECT channel_order_id FROM orders WHERE id = $1", [id]).first?.decode(0, as: String?.self)
            }
            #expect(channel == String(shopifyId))
        }
    }

    /// A cancel of a CONFIRMED order gives its stock back; once it shipped,
    /// the cancel is refused, recorded, and answered 200 so Shopify stops.
    @Test func aCancelAfterTheOrderIsAppliedGivesTheStockBackUntilItShipped() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.product("late", stock: ["vendorA": 6])
            let shop = Self.uniqueShop()
            let (cancelledId, shippedId) = (Self.shopifyId(), Self.shopifyId())
            let ids = try [cancelledId, shippedId].map { try Self.orderId(system, shop: shop, id: $0) }
            try await Self.app(system).test(.router) { client in
                for shopifyId in [cancelledId, shippedId] {
                    let created = try await Self.deliver(Self.orderBody(id: shopifyId, lines: [(product, 2)]), Delivery(shop: shop), to: client)
                    #expect(created.json["status"] as? String == "enqueued", "\(created.text)")
                }
                try await system.withWorker { () async throws in
                    #expect(try await system.waitForOrders(ids) == [ids[0]: "CONFIRMED", ids[1]: "CONFIRMED"])
                }
                #expect(try system.stock(of: product) == ["vendorA": 2])
                try OrderCommandTests.advance(ids[1], through: [.shipped])

                // A signed body of an order that is not cancelled, under the cancel topic
                // (the topic header is not signed: a replayed create), cancels nothing.
                let replayed = Delivery(topic: "orders/cancelled", shop: shop)
                let notCancelled = try await Self.deliver(Self.orderBody(id: cancelledId, lines: [(product, 2)]), replayed, to: client)
                #expect(notCancelled.json["status"] as? String == "ignored", "\(notCancelled.text)")
                #expect(try Self.outcome(ofWebhook: replayed.webhookId!) == "ignored")
                #expect(try system.statuses([ids[0]]) == [ids[0]: "CONFIRMED"])

                let cancel = Delivery(topic: "orders/cancelled", shop: shop)
                let cancelled = try await Self.deliver(Self.orderBody(id: cancelledId, lines: [(product, 2)], cancelReason: "inventory"), cancel, to: client)
                #expect(cancelled.json["status"] as? String == "cancelled", "\(cancelled.text)")
                let again = try await Self.deliver(Self.orderBody(id: cancelledId, lines: [(product, 2)], cancelReason: "inventory"), cancel, to: client)
                #expect(again.json["status"] as? String == "duplicate")

                let refusedDelivery = Delivery(topic: "orders/cancelled", shop: shop)
                let refused = try await Self.deliver(Self.orderBody(id: shippedId, lines: [(product, 2)], cancelReason: "customer"), refusedDelivery, to: client)
                #expect(refused.status == 200, "\(refused.text)")
                #expect(refused.json["status"] as? String == "ignored")
                #expect(try Self.outcome(ofWebhook: refusedDelivery.webhookId!) == "cancel-refused")
            }
            #expect(try system.statuses(ids) == [ids[0]: "CANCELLED", ids[1]: "SHIPPED"])
            #expect(try system.stock(of: product) == ["vendorA": 4])
            #expect(try Self.reason(of: ids[0]) == "shopify: inventory")
        }
    }
}
