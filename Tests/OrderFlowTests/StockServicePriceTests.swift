import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import OrderCore
import OrderStore
import ServiceSupport
import StockSync
import TestSupport
import Testing

/// The Stock Service sets and removes a product's price (in the orders
/// database), behind the same bearer token as its stock writes.
@Suite(.timeLimit(.minutes(1))) struct StockServicePriceTests {
    static let token = "stock-token-\(UUID().uuidString)"

    private func app() throws -> StockSyncApp {
        let environment = [
            "DATABASE_URL": TestEnvironment.databaseURL,
            "VENDOR_DATABASE_URLS": StockServiceTests.downVendor,
            "STOCK_SYNC_HTTP_PORT": "0",
            "STOCK_API_TOKEN": Self.token,
        ]
        var logger = Logger(label: "test-stock-service-prices")
        logger.logLevel = .critical
        return try StockSyncApp(configuration: StockSyncConfiguration(environment: EnvironmentConfiguration(environment)), logger: logger, periodic: false)
    }

    private func call(
        _ client: some TestClientProtocol, _ method: HTTPRequest.Method, _ product: String, body: String? = nil,
        authorization: String? = "Bearer \(StockServicePriceTests.token)"
    ) async throws -> HTTPResult {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let authorization { headers[.authorization] = authorization }
        return try await client.call(method, "/products/\(product)/price", headers: headers, body: body.map { Array($0.utf8) })
    }

    private func storedPrice(_ product: String) throws -> Money?? {
        try TestEnvironment.withOrdersDatabase { try ProductPrices.all(on: $0)[product] }
    }

    @Test func aPriceIsSetAndRemoved() async throws {
        let product = TestEnvironment.uniqueName("priced")
        try TestEnvironment.createProduct(product, stock: [:])
        try await app().application.test(.router) { client in
            let set = try await call(client, .put, product, body: #"{"minor":1250,"currency":"EUR"}"#)
            #expect(set.status == 200, "\(set.text)")
            #expect(set.json["productId"] as? String == product)
            #expect((set.json["price"] as? [String: Any])?["minor"] as? Int == 1250)
            #expect(try storedPrice(product) == .some(Money(minor: 1250, currency: "EUR")))

            let free = try await call(client, .put, product, body: #"{"minor":0,"currency":"USD"}"#)
            #expect(free.status == 200)
            #expect(try storedPrice(product) == .some(Money(minor: 0, currency: "USD")))

            let removed = try await call(client, .delete, product)
            #expect(removed.status == 200, "\(removed.text)")
            #expect(removed.json["price"] is NSNull)
            #expect(try storedPrice(product) == .some(nil))
        }
    }

    @Test func invalidPricesAreRefusedNamingTheField() async throws {
        let product = TestEnvironment.uniqueName("badprice")
        try TestEnvironment.createProduct(product, stock: [:])
        try await app().application.test(.router) { client in
            for (body, fields) in [
                (#"{"minor":-1,"currency":"EUR"}"#, ["minor"]),
                (#"{"minor":12.5,"currency":"EUR"}"#, ["minor"]),
                (#"{"minor":"1250","currency":"EUR"}"#, ["minor"]),
                (#"{"minor":1250,"currency":"eur"}"#, ["currency"]),
                (#"{"minor":1250,"currency":"EURO"}"#, ["currency"]),
                (#"{"minor":1250}"#, ["currency"]),
                (#"{"minor":1250,"currency":"EUR","vat":20}"#, ["vat"]),
            ] {
                let response = try await call(client, .put, product, body: body)
                #expect(response.status == 400, "\(body)")
                #expect(response.json["code"] as? String == "invalid-request", "\(body)")
                #expect((response.json["errors"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String } == fields, "\(body)")
            }
            #expect(try storedPrice(product) == .some(nil), "nothing was set")

            let unknown = try await call(client, .put, TestEnvironment.uniqueName("nosuch"), body: #"{"minor":1,"currency":"EUR"}"#)
            #expect(unknown.status == 404)
            #expect(unknown.json["code"] as? String == "product-not-found")
            #expect(try await call(client, .delete, TestEnvironment.uniqueName("nosuch")).status == 404)

            let unauthorized = try await call(client, .put, product, body: #"{"minor":1,"currency":"EUR"}"#, authorization: nil)
            #expect(unauthorized.status == 401)
            #expect(try await call(client, .delete, product, authorization: "Bearer wrong").status == 403)
            #expect(try storedPrice(product) == .some(nil))

            let options = try await client.call(.options, "/products/\(product)/price")
            #expect(options.headers[.allow] == "PUT, DELETE, OPTIONS")
        }
    }
}
