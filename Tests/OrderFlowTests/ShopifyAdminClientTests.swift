import Foundation
import Shopify
import TestSupport
import Testing

/// The Admin API client against a stand-in that records every request: the
/// exact shapes Shopify documents, paging, and how each failure is classified.
@Suite("Shopify Admin API client")
struct ShopifyAdminClientTests {
    private static func client(_ standIn: ShopifyStandIn, timeout: Duration = .seconds(5)) -> ShopifyAdminClient {
        ShopifyAdminClient(configuration: .init(adminURL: standIn.url + "/", accessToken: ShopifyStandIn.token, timeout: timeout))
    }

    @Test func setInventoryLevelSendsTheDocumentedRequest() async throws {
        let standIn = ShopifyStandIn()
        try await standIn.start()
        let level = try await Self.client(standIn).setInventoryLevel(locationId: 655_441_491, inventoryItemId: 808_950_810, available: 42)
        #expect(level == .init(inventoryItemId: 808_950_810, locationId: 655_441_491, available: 42))
        let request = try #require(standIn.requests.first)
        #expect(standIn.requests.count == 1)
        #expect(request.method == "POST")
        #expect(request.path == "/admin/api/2024-01/inventory_levels/set.json")
        #expect(request.query == "")
        #expect(request.headers["x-shopify-access-token"] == ShopifyStandIn.token)
        #expect(request.headers["content-type"] == "application/json")
        #expect(request.headers["authorization"] == nil)
        #expect(request.text == #"{"location_id":655441491,"inventory_item_id":808950810,"available":42}"#)
        #expect(standIn.levels[808_950_810] == 42)
    }

    @Test func inventoryLevelsAsksForAtMostFiftyIdsPerCall() async throws {
        let standIn = ShopifyStandIn()
        try await standIn.start()
        let items = (1...120).map { Int64(9_000 + $0) }
        for item in items { standIn.setLevel(item, Int(item % 7)) }
        let levels = try await Self.client(standIn).inventoryLevels(locationId: 77, inventoryItemIds: items)
        #expect(Set(levels) == Set(items.map { ShopifyAdminClient.InventoryLevel(inventoryItemId: $0, locationId: 77, available: Int($0 % 7)) }))
        let calls = standIn.requests(to: "inventory_levels.json")
        #expect(calls.count == 3)
        #expect(calls.map { $0.parameter("inventory_item_ids")?.split(separator: ",").count } == [50, 50, 20])
        for call in calls {
            #expect(call.method == "GET")
            #expect(call.parameter("location_ids") == "77")
            #expect(call.parameter("limit") == "250")
            #expect(call.headers["x-shopify-access-token"] == ShopifyStandIn.token)
        }
    }

    @Test func ordersFollowTheLinkHeaderThroughEveryPage() async throws {
        let standIn = ShopifyStandIn()
        try await standIn.start()
        standIn.setPageSize(2)
        for id in 1...5 { standIn.addOrder(ShopifyStandIn.order(id: Int64(1000 + id), name: "#\(id)", sku: "S\(id)", quantity: id)) }
        standIn.addOrder(#"{"id":"not digits","line_items":[]}"#)
        let since = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01T00:00:00Z
        let orders = try await Self.client(standIn).orders(createdAtMin: since)
        #expect(orders.count == 6)
        #expect(orders.compactMap { try? $0.get().id } == ["1001", "1002", "1003", "1004", "1005"])
        #expect(orders.compactMap { try? $0.get().lineItems.first?.quantity } == [1, 2, 3, 4, 5])
        let calls = standIn.requests(to: "orders.json")
        #expect(calls.count == 3)
        #expect(calls[0].parameter("status") == "any")
        #expect(calls[0].parameter("limit") == "250")
        #expect(calls[0].parameter("created_at_min").flatMap { ISO8601DateFormatter.withFractions.date(from: $0) ?? ISO8601DateFormatter().date(from: $0) } == since)
        // A next page carries only its cursor and the limit, as Shopify requires.
        #expect(calls[1].query == "page_info=cursor2&limit=250")
        #expect(calls[2].query == "page_info=cursor4&limit=250")
    }

    @Test func aThrottledCallWaitsAsLongAsRetryAfterSays() async throws {
        let standIn = ShopifyStandIn()
        try await standIn.start()
        standIn.throttle(next: 1, retryAfter: "1.5")
        try await Self.client(standIn).setInventoryLevel(locationId: 1, inventoryItemId: 5, available: 3)
        let calls = standIn.requests
        #expect(calls.count == 2)
        let waited = try #require(calls.last).receivedAt - (try #require(calls.first)).receivedAt
        #expect(waited >= .milliseconds(1500), "the second call came \(waited) after the 429")
        #expect(standIn.levels[5] == 3)
    }

    @Test func aClientKeptThrottledGivesUpAsTransient() async throws {
        let standIn = ShopifyStandIn()
        try await standIn.start()
        standIn.throttle(next: 10, retryAfter: "0.1")
        let client = ShopifyAdminClient(configuration: .init(adminURL: standIn.url, accessToken: ShopifyStandIn.token, throttleRetries: 2))
        await #expect(throws: ShopifyAdminError.throttled) { try await client.setInventoryLevel(locationId: 1, inventoryItemId: 5, available: 3) }
        #expect(standIn.requests.count == 3)
        #expect(ShopifyAdminError.throttled.isTransient)
    }

    @Test func failuresAreClassified() async throws {
        let standIn = ShopifyStandIn()
        try await standIn.start()
        let client = Self.client(standIn)
        standIn.refuse(6)
        do {
            try await client.setInventoryLevel(locationId: 1, inventoryItemId: 6, available: 1)
            Issue.record("a refused figure was taken")
        } catch {
            guard case .rejected(422, let message) = error else { throw error }
            #expect(message.contains("is not stocked at the location"))
            #expect(!error.isTransient)
        }
        #expect(standIn.requests.count == 1, "a refusal is not retried")
        let bad = ShopifyAdminClient(configuration: .init(adminURL: standIn.url, accessToken: "wrong"))
        await #expect(throws: ShopifyAdminError.rejected(status: 401, message: "[API] Invalid API key or access token")) {
            try await bad.setInventoryLevel(locationId: 1, inventoryItemId: 6, available: 1)
        }
        standIn.mode = .failing(status: 503)
        await #expect(throws: ShopifyAdminError.serverError(status: 503)) { try await client.inventoryLevels(locationId: 1, inventoryItemIds: [6]) }
        standIn.mode = .slow(.seconds(3))
        do {
            _ = try await Self.client(standIn, timeout: .milliseconds(500)).orders(createdAtMin: Date())
            Issue.record("a slow API answered within the deadline")
        } catch {
            guard case .unavailable = error else { throw error }
            #expect(error.isTransient)
            #expect(!error.description.contains(ShopifyStandIn.token))
        }
        standIn.mode = .normal
        await standIn.stop()
        await #expect(throws: ShopifyAdminError.self) { try await client.setInventoryLevel(locationId: 1, inventoryItemId: 6, available: 1) }
    }
}

extension ISO8601DateFormatter {
    static var withFractions: ISO8601DateFormatter {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }
}
