import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
@testable import OrderAPI
import OrderCore
import OrderStore
import Postgres
import ServiceSupport
import TestSupport
import Testing

/// What order-api checks of an order that pays: a payment when
/// `PAYMENTS_REQUIRED`, priced products of one currency, from a catalogue
/// it keeps in memory; and `GET /products` shows prices.
@Suite(.timeLimit(.minutes(2))) struct PaymentIntakeTests {
    private static let quietLogger: Logger = {
        var logger = Logger(label: "test-payment-intake")
        logger.logLevel = .critical
        return logger
    }()

    private func app(_ system: OrderSystemFixture, _ overrides: [String: String] = [:]) throws -> some ApplicationProtocol {
        let environment = system.environment.merging(overrides) { $1 }
        return try buildOrderAPI(configuration: OrderAPIConfiguration(environment: EnvironmentConfiguration(environment)), logger: Self.quietLogger)
    }

    private func price(_ product: String, _ price: Money?) throws {
        let found = try OrderSystemFixture.database { try ProductPrices.set(product, to: price, on: $0) }
        #expect(found)
    }

    private static func paying(_ items: [(String, Int)], method: String = "pm_card_visa") -> String {
        let lines = items.map { #"{"productId":"\#($0.0)","quantity":\#($0.1)}"# }.joined(separator: ",")
        return #"{"items":[\#(lines)],"payment":{"method":"\#(method)"}}"#
    }

    @Test func paymentsRequiredRefusesAnOrderWithoutOne() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.product("required", stock: ["vendorA": 5])
            try price(product, Money(minor: 1250, currency: "EUR"))
            try await app(system, ["PAYMENTS_REQUIRED": "true"]).test(.router) { client in
                let unpaid = try await client.postOrder(#"{"productId":"\#(product)","quantity":1}"#)
                #expect(unpaid.status == 400, "\(unpaid.text)")
                #expect(unpaid.json["code"] as? String == "payment-required")
                let paid = try await client.postOrder(Self.paying([(product, 1)]))
                #expect(paid.status == 202, "\(paid.text)")
            }
            #expect(try await system.depth(system.topology.orders.main) == 1, "only the paying order was published")
            // The default: an order without a payment is taken as it always is.
            try await app(system).test(.router) { client in
                let unpaid = try await client.postOrder(#"{"productId":"\#(product)","quantity":1}"#)
                #expect(unpaid.status == 202)
            }
        }
    }

    @Test func paymentsRequiredIsABooleanSetting() throws {
        let base = TestEnvironment.processEnvironment
        #expect(try OrderAPIConfiguration(environment: EnvironmentConfiguration(base)).paymentsRequired == false)
        #expect(try OrderAPIConfiguration(environment: EnvironmentConfiguration(base.merging(["PAYMENTS_REQUIRED": "true"]) { $1 })).paymentsRequired)
        #expect(throws: ConfigurationError.self) {
            try OrderAPIConfiguration(environment: EnvironmentConfiguration(base.merging(["PAYMENTS_REQUIRED": "sometimes"]) { $1 }))
        }
    }

    @Test func aPayingOrderOfAnUnpricedProductIsRefusedNamingIt() async throws {
        try await OrderSystemFixture.with { system in
            let priced = try system.product("priced", stock: ["vendorA": 5])
            let unpriced = try system.product("unpriced", stock: ["vendorA": 5])
            try price(priced, Money(minor: 799, currency: "EUR"))
            try await app(system).test(.router) { client in
                let refused = try await client.postOrder(Self.paying([(priced, 1), (unpriced, 2)]))
                #expect(refused.status == 400, "\(refused.text)")
                #expect(refused.json["code"] as? String == "product-unpriced")
                #expect((refused.json["detail"] as? String)?.contains(unpriced) == true)
                #expect((refused.json["detail"] as? String)?.contains(priced) == false)
                // Without a payment nothing is checked.
                let unpaid = try await client.postOrder(#"{"productId":"\#(unpriced)","quantity":1}"#)
                #expect(unpaid.status == 202)

                // A price set now is seen at the next refusal's reload (at most one a second).
                try price(unpriced, Money(minor: 100, currency: "EUR"))
                try await Task.sleep(for: .milliseconds(1100))
                let accepted = try await client.postOrder(Self.paying([(priced, 1), (unpriced, 2)]))
                #expect(accepted.status == 202, "\(accepted.text)")
            }
            #expect(try await system.depth(system.topology.orders.main) == 2)
        }
    }

    @Test func aPayingOrderInTwoCurrenciesIsRefusedNamingThem() async throws {
        try await OrderSystemFixture.with { system in
            let euros = try system.product("euros", stock: ["vendorA": 5])
            let dollars = try system.product("dollars", stock: ["vendorA": 5])
            try price(euros, Money(minor: 1250, currency: "EUR"))
            try price(dollars, Money(minor: 1500, currency: "USD"))
            try await app(system).test(.router) { client in
                let refused = try await client.postOrder(Self.paying([(euros, 1), (dollars, 1)]))
                #expect(refused.status == 400, "\(refused.text)")
                #expect(refused.json["code"] as? String == "mixed-currency")
                let detail = refused.json["detail"] as? String ?? ""
                #expect(detail.contains("EUR") && detail.contains("USD"), "\(detail)")
                #expect(try await client.postOrder(Self.paying([(euros, 3)])).status == 202)
            }
        }
    }

    /// The intake keeps taking orders while PostgreSQL is down: the worker decides.
    @Test func withTheDatabaseDownAPayingOrderIsAccepted() async throws {
        try await OrderSystemFixture.with { system in
            let down = ["DATABASE_URL": "postgres://orders:orders@127.0.0.1:1/ordersdb_test?connect_timeout=2"]
            try await app(system, down).test(.router) { client in
                let response = try await client.postOrder(Self.paying([("p1", 1)]))
                #expect(response.status == 202, "\(response.text)")
            }
            #expect(try await system.depth(system.topology.orders.main) == 1)
        }
    }

    /// Warm, the catalogue answers from memory: a price removed in the
    /// database is not seen by a lookup that finds every product priced (the
    /// worker, which prices from the database, rejects that order). A refusal
    /// is confirmed against the database, which sees a price set since.
    @Test func aWarmCatalogueAsksTheDatabaseNothing() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.product("warm", stock: ["vendorA": 1])
            let later = try system.product("later", stock: ["vendorA": 1])
            try price(product, Money(minor: 500, currency: "EUR"))
            let pool = PostgresPool(configuration: try PostgresConfiguration(url: TestEnvironment.databaseURL), size: 1, logger: Self.quietLogger)
            let catalogue = PriceCatalogue(database: pool, refreshInterval: .seconds(60), logger: Self.quietLogger)
            #expect(await catalogue.check([product]) == .accepted)
            #expect(await catalogue.check([later]) == .unpriced([later]))
            try price(product, nil)
            try price(later, Money(minor: 300, currency: "EUR"))
            #expect(await catalogue.check([product]) == .accepted, "answered from memory")
            #expect(await catalogue.check([later]) == .accepted, "the refusal was checked against the database at once")
            #expect(await catalogue.check([later, product]) == .accepted, "both answered from memory now")
            try price(later, Money(minor: 300, currency: "USD"))
            #expect(await catalogue.check([later, product]) == .accepted, "a change of currency is not seen until the next load")
            await pool.shutdown()
        }
    }

    @Test func productsShowTheirPrice() async throws {
        try await OrderSystemFixture.with { system in
            let priced = try system.product("shown", stock: ["vendorA": 3])
            let unpriced = try system.product("plain", stock: ["vendorB": 2])
            try price(priced, Money(minor: 2400, currency: "EUR"))
            try await app(system).test(.router) { client in
                let one = try await client.call(.get, "/products/\(priced)")
                #expect(one.status == 200)
                #expect(one.json["available"] as? Int == 3, "the stock figures are still there")
                let price = one.json["price"] as? [String: Any]
                #expect(price?["minor"] as? Int == 2400)
                #expect(price?["currency"] as? String == "EUR")
                let plain = try await client.call(.get, "/products/\(unpriced)")
                #expect(plain.json.keys.contains("price"))
                #expect(plain.json["price"] is NSNull)
                let list = try await client.call(.get, "/products")
                let products = list.json["products"] as? [[String: Any]] ?? []
                let listed = products.first { $0["productId"] as? String == priced }
                #expect((listed?["price"] as? [String: Any])?["minor"] as? Int == 2400)
                #expect(products.first { $0["productId"] as? String == unpriced }?["price"] is NSNull)
            }
        }
    }
}
