import Foundation
import Synchronization
import TestSupport

/// Shopify's Admin API played by a `StandInServer`: it keeps an available
/// figure per inventory item (set by `inventory_levels/set.json`, read by
/// `inventory_levels.json`), serves an order list in pages linked by
/// `Link: <…>; rel="next"`, and on command throttles (429 with Retry-After)
/// or refuses (422) an item's pushes.
final class ShopifyStandIn: Sendable {
    static let basePath = "/admin/api/2024-01/"
    static let token = "shpat_test_token"

    private struct State {
        var levels: [Int64: Int] = [:]
        /// Each order's JSON object, in list order.
        var orders: [String] = []
        var pageSize = 250
        var throttles = 0
        var retryAfter = "1.0"
        var refused: Set<Int64> = []
    }

    private final class Box: Sendable {
        let lock = Mutex(State())
    }

    private let box: Box
    let server: StandInServer

    init() {
        let box = Box()
        self.box = box
        server = StandInServer { request in ShopifyStandIn.respond(request, box: box) }
    }

    func start() async throws { try await server.start() }
    func stop() async { await server.stop() }
    var url: String { server.url }
    var requests: [StandInServer.Request] { server.requests }
    var mode: StandInServer.Mode {
        get { server.mode }
        set { server.mode = newValue }
    }

    /// The figure the channel holds for each item.
    var levels: [Int64: Int] { box.lock.withLock { $0.levels } }
    func setLevel(_ item: Int64, _ available: Int) { box.lock.withLock { $0.levels[item] = available } }
    /// The next `count` pushes are answered 429 with `Retry-After: seconds`.
    func throttle(next count: Int, retryAfter seconds: String) { box.lock.withLock { $0.throttles = count; $0.retryAfter = seconds } }
    func refuse(_ item: Int64) { box.lock.withLock { _ = $0.refused.insert(item) } }
    func addOrder(_ json: String) { box.lock.withLock { $0.orders.append(json) } }
    func setPageSize(_ size: Int) { box.lock.withLock { $0.pageSize = size } }

    /// The pushes (`inventory_levels/set.json`) received for `items`.
    func pushes(of items: Set<Int64>) -> [StandInServer.Request] {
        requests.filter {
            $0.path == Self.basePath + "inventory_levels/set.json"
                && ($0.json?["inventory_item_id"] as? NSNumber).map { items.contains($0.int64Value) } == true
        }
    }

    func requests(to resource: String) -> [StandInServer.Request] { requests.filter { $0.path == Self.basePath + resource } }

    /// A Shopify order object as `orders.json` lists it.
    static func order(id: Int64, name: String, sku: String, quantity: Int, createdAt: Date = Date(), cancelled: Bool = false) -> String {
        let created = ISO8601DateFormatter().string(from: createdAt)
        let cancelledAt = cancelled ? "\"\(created)\"" : "null"
        return """
            {"id":\(id),"name":"\(name)","created_at":"\(created)","currency":"EUR","financial_status":"paid","fulfillment_status":null,\
            "total_price":"10.00","location_id":1,"cancelled_at":\(cancelledAt),"cancel_reason":\(cancelled ? "\"customer\"" : "null"),\
            "line_items":[{"sku":"\(sku)","quantity":\(quantity),"price":"10.00"}]}
            """
    }

    private static func respond(_ request: StandInServer.Request, box: Box) -> StandInServer.Response {
        guard request.headers["x-shopify-access-token"] == token else { return .json(["errors": "[API] Invalid API key or access token"], status: 401) }
        switch (request.method, request.path) {
        case ("POST", basePath + "inventory_levels/set.json"):
            guard let body = request.json, let item = (body["inventory_item_id"] as? NSNumber)?.int64Value,
                  let location = (body["location_id"] as? NSNumber)?.int64Value, let available = (body["available"] as? NSNumber)?.intValue
            else { return .json(["errors": "bad request"], status: 400) }
            enum Answer { case throttled(String), refused, set }
            let answer = box.lock.withLock { state -> Answer in
                if state.throttles > 0 {
                    state.throttles -= 1
                    return .throttled(state.retryAfter)
                }
                if state.refused.contains(item) { return .refused }
                state.levels[item] = available
                return .set
            }
            switch answer {
            case .throttled(let seconds):
                return StandInServer.Response(status: 429, headers: ["retry-after": seconds], body: Array(#"{"errors":"Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."}"#.utf8))
            case .refused:
                return .json(["errors": ["inventory_item": ["is not stocked at the location"]]], status: 422)
            case .set:
                return .json(["inventory_level": ["inventory_item_id": Int(item), "location_id": Int(location), "available": available, "updated_at": "2026-01-01T00:00:00Z"] as [String: Any]])
            }
        case ("GET", basePath + "inventory_levels.json"):
            let ids = (request.parameter("inventory_item_ids") ?? "").split(separator: ",").compactMap { Int64($0) }
            let location = Int64(request.parameter("location_ids") ?? "") ?? 0
            let levels = box.lock.withLock { $0.levels }
            return .json(["inventory_levels": ids.compactMap { id in
                levels[id].map { ["inventory_item_id": Int(id), "location_id": Int(location), "available": $0] as [String: Any] }
            }])
        case ("GET", basePath + "orders.json"):
            let (orders, size) = box.lock.withLock { ($0.orders, $0.pageSize) }
            let start = Int(request.parameter("page_info")?.dropFirst("cursor".count) ?? "") ?? 0
            let page = orders.dropFirst(start).prefix(size)
            var response = StandInServer.Response(
                status: 200, headers: ["content-type": "application/json"], body: Array(#"{"orders":["#.utf8) + Array(page.joined(separator: ",").utf8) + Array("]}".utf8))
            if start + size < orders.count {
                response.headers["link"] = "<https://shop.example/admin/api/2024-01/orders.json?limit=\(size)&page_info=cursor\(start + size)>; rel=\"next\""
                if start > 0 { response.headers["link"]! += ", <https://shop.example/admin/api/2024-01/orders.json?page_info=cursorback>; rel=\"previous\"" }
            }
            return response
        default:
            return .json(["errors": "Not Found"], status: 404)
        }
    }
}
