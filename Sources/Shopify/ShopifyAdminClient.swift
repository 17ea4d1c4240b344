import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import OrderCore
import TextCodecs

/// Calls Shopify's Admin REST API (or a stand-in that speaks it):
/// `X-Shopify-Access-Token` on every call, paths under
/// `/admin/api/<version>/`, a deadline on every call, list pages followed
/// through the `Link: <…>; rel="next"` header. A 429 is waited out here, as
/// long as its `Retry-After` says, a few times; what still fails is a
/// ``ShopifyAdminError``. Non-blocking: the calls run on async-http-client's
/// event loops and suspend the caller.
public struct ShopifyAdminClient: Sendable {
    public struct Configuration: Sendable {
        /// The shop's address (`https://<shop>.myshopify.com`), or a stand-in's.
        public var adminURL: String
        public var accessToken: String
        /// Each call's deadline, from connecting to the last byte of the answer.
        public var timeout: Duration
        public var apiVersion: String
        /// How many 429s one call waits out before it gives up with `.throttled`.
        public var throttleRetries: Int

        public init(adminURL: String, accessToken: String, timeout: Duration = .seconds(10), apiVersion: String = "2024-01", throttleRetries: Int = 3) {
            self.adminURL = adminURL.hasSuffix("/") ? String(adminURL.dropLast()) : adminURL
            self.accessToken = accessToken
            self.timeout = timeout
            self.apiVersion = apiVersion
            self.throttleRetries = throttleRetries
        }
    }

    /// One item's stock figure at one location (Shopify's `InventoryLevel`).
    public struct InventoryLevel: Sendable, Hashable {
        public let inventoryItemId: Int64
        public let locationId: Int64
        /// nil: Shopify does not track the item's quantity.
        public let available: Int?

        public init(inventoryItemId: Int64, locationId: Int64, available: Int?) {
            self.inventoryItemId = inventoryItemId
            self.locationId = locationId
            self.available = available
        }
    }

    public let configuration: Configuration
    private let http: HTTPClient

    /// `http` is shared by every call (its connection pool); the process-wide client by default.
    public init(configuration: Configuration, http: HTTPClient = .shared) {
        self.configuration = configuration
        self.http = http
    }

    /// Shopify caps the ids of one `inventory_levels.json` filter at 50.
    public static let maximumIdsPerLevelsCall = 50
    /// The largest page a list call may ask for.
    static let pageLimit = 250
    /// The longest `Retry-After` honoured; a longer one is taken as this.
    static let maximumRetryAfter: Duration = .seconds(60)

    // MARK: Inventory

    /// Sets the item's available figure at the location to `available`: an
    /// absolute figure, so sending the same one twice changes nothing.
    @discardableResult
    public func setInventoryLevel(locationId: Int64, inventoryItemId: Int64, available: Int) async throws(ShopifyAdminError) -> InventoryLevel {
        var writer = JSONWriter(capacity: 96)
        writer.raw(#"{"location_id":"#)
        writer.integer(locationId)
        writer.raw(#","inventory_item_id":"#)
        writer.integer(inventoryItemId)
        writer.raw(#","available":"#)
        writer.integer(available)
        writer.raw("}")
        let answer = try await call(.POST, "inventory_levels/set.json", query: [], body: writer.bytes)
        guard case .object(let fields) = answer.body, let level = fields["inventory_level"], let parsed = Self.level(level) else {
            throw .serverError(status: answer.status)
        }
        return parsed
    }

    /// The figures of `inventoryItemIds` at the location, every page of them
    /// (asked for in groups of at most ``maximumIdsPerLevelsCall``).
    public func inventoryLevels(locationId: Int64, inventoryItemIds: [Int64]) async throws(ShopifyAdminError) -> [InventoryLevel] {
        var levels: [InventoryLevel] = []
        var start = 0
        while start < inventoryItemIds.count {
            let group = inventoryItemIds[start..<min(start + Self.maximumIdsPerLevelsCall, inventoryItemIds.count)]
            start += group.count
            let query = [
                ("inventory_item_ids", group.map(String.init).joined(separator: ",")), ("location_ids", String(locationId)),
                ("limit", String(Self.pageLimit)),
            ]
            for entry in try await list("inventory_levels.json", query: query, key: "inventory_levels") {
                guard let level = Self.level(entry) else { throw .serverError(status: 200) }
                levels.append(level)
            }
        }
        return levels
    }

    // MARK: Orders

    /// Every order created at or after `createdAtMin`, cancelled ones
    /// included (`status=any`). An entry that is not a usable order is
    /// returned as its `Malformed` problem, so one bad order does not hide the others.
    public func orders(createdAtMin: Date) async throws(ShopifyAdminError) -> [Result<ShopifyOrder, ShopifyOrder.Malformed>] {
        let query = [("status", "any"), ("created_at_min", MessageCoding.formatDate(createdAtMin)), ("limit", String(Self.pageLimit))]
        return try await list("orders.json", query: query, key: "orders").map { entry in
            Result { () throws(ShopifyOrder.Malformed) -> ShopifyOrder in try ShopifyOrder.parse(entry) }
        }
    }

    // MARK: HTTP

    /// A list endpoint's entries over every page: the first call carries the
    /// filters, each next one only the `page_info` cursor (and the limit), as Shopify requires.
    private func list(_ resource: String, query: [(String, String)], key: String) async throws(ShopifyAdminError) -> [JSONValue] {
        var entries: [JSONValue] = []
        var query = query
        var cursors: Set<String> = []
        // Bounded, and a cursor seen before ends it: a remote that keeps answering
        // "next" (a bug, or a hostile one) cannot keep the pass running or growing.
        for _ in 0..<Self.maximumPages {
            let answer = try await call(.GET, resource, query: query, body: nil)
            guard case .object(let fields) = answer.body, case .array(let page)? = fields[key] else {
                throw .serverError(status: answer.status)
            }
            entries += page
            guard let cursor = answer.nextPageInfo, cursors.insert(cursor).inserted else { return entries }
            query = [("page_info", cursor), ("limit", String(Self.pageLimit))]
        }
        throw .unavailable(detail: "\(resource) did not end within \(Self.maximumPages) pages")
    }

    private struct Answer {
        let status: Int
        let body: JSONValue
        /// The `page_info` of the `Link` header's `rel="next"` URL.
        let nextPageInfo: String?
    }

    private func call(_ method: HTTPMethod, _ resource: String, query: [(String, String)], body: [UInt8]?) async throws(ShopifyAdminError) -> Answer {
        var url = "\(configuration.adminURL)/admin/api/\(configuration.apiVersion)/\(resource)"
        if !query.isEmpty { url += "?" + query.map { "\(Self.percentEncoded($0.0))=\(Self.percentEncoded($0.1))" }.joined(separator: "&") }
        var throttled = 0
        while true {
            var request = HTTPClientRequest(url: url)
            request.method = method
            request.headers.add(name: "X-Shopify-Access-Token", value: configuration.accessToken)
            request.headers.add(name: "Accept", value: "application/json")
            if let body {
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(bytes: body))
            }
            let status: Int
            let headers: HTTPHeaders
            let bytes: [UInt8]
            do {
                let response = try await http.execute(request, timeout: TimeAmount(configuration.timeout))
                status = Int(response.status.code)
                headers = response.headers
                var buffer = try await response.body.collect(upTo: Self.maxAnswerBytes)
                bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
            } catch {
                // The transport's description never carries the request's headers (the token).
                throw .unavailable(detail: "\(error)")
            }
            switch status {
            case 200..<300:
                guard let value = try? JSONValue.parse(bytes) else { throw .serverError(status: status) }
                return Answer(status: status, body: value, nextPageInfo: headers.first(name: "Link").flatMap(Self.nextPageInfo))
            case 429:
                guard throttled < configuration.throttleRetries else { throw .throttled }
                throttled += 1
                do {
                    try await Task.sleep(for: Self.retryAfter(headers.first(name: "Retry-After")))
                } catch {
                    throw .throttled
                }
            case 500...599:
                throw .serverError(status: status)
            default:
                throw .rejected(status: status, message: Self.errorMessage(bytes) ?? "HTTP \(status)")
            }
        }
    }

    /// Pages of one listing at most: 1,000 pages of 250 are 250,000 orders, more than a
    /// reconciliation lookback holds in any shop this serves.
    static let maximumPages = 1_000

    /// An Admin API answer is a page of at most 250 entries; anything larger is not one.
    private static let maxAnswerBytes = 16 * 1024 * 1024

    /// `Retry-After` in seconds (Shopify sends "2.0"); 2 s when absent or unreadable.
    static func retryAfter(_ header: String?) -> Duration {
        guard let header, let seconds = Double(header.trimmingCharacters(in: .whitespaces)), seconds >= 0, seconds.isFinite else { return .seconds(2) }
        // Clamped while still a Double: "1e20" would overflow the conversion to milliseconds.
        let cap = Double(maximumRetryAfter.components.seconds)
        return .milliseconds(Int64(min(seconds, cap) * 1000))
    }

    /// The cursor of `<…?page_info=X&limit=250>; rel="next"` in a `Link` header
    /// (which may also hold a `rel="previous"` link).
    static func nextPageInfo(_ header: String) -> String? {
        for link in header.split(separator: ",") {
            let parts = link.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count >= 2, parts.dropFirst().contains(where: { $0.replacingOccurrences(of: " ", with: "") == #"rel="next""# }),
                  parts[0].hasPrefix("<"), parts[0].hasSuffix(">"),
                  let components = URLComponents(string: String(parts[0].dropFirst().dropLast()))
            else { continue }
            return components.queryItems?.first { $0.name == "page_info" }?.value
        }
        return nil
    }

    /// Shopify's `{"errors": "…"}` or `{"errors": {"field": ["…"]}}`, as one line.
    private static func errorMessage(_ body: [UInt8]) -> String? {
        guard case .object(let fields)? = try? JSONValue.parse(body), let errors = fields["errors"] else { return nil }
        if case .string(let text) = errors { return text }
        return errors.json(pretty: false)
    }

    private static func level(_ value: JSONValue) -> InventoryLevel? {
        guard case .object(let fields) = value, case .integer(let item)? = fields["inventory_item_id"],
              case .integer(let location)? = fields["location_id"]
        else { return nil }
        switch fields["available"] {
        case .integer(let available)?: return InventoryLevel(inventoryItemId: item, locationId: location, available: Int(clamping: available))
        case nil, .null?: return InventoryLevel(inventoryItemId: item, locationId: location, available: nil)
        default: return nil
        }
    }

    private static func percentEncoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
}
