import ChannelSync
import Foundation
import Logging
import OrderCore
import OrderStore
import ServiceSupport
import TestSupport

/// channel-sync against a Shopify stand-in, on an `OrderSystemFixture`'s
/// queues. Each fixture keeps its own channel name, so its mappings and
/// `channel_stock` rows are its own however many tests run at once.
final class ChannelSyncFixture: Sendable {
    let system: OrderSystemFixture
    let standIn: ShopifyStandIn
    let channel: String
    let shop: String

    private init(system: OrderSystemFixture, standIn: ShopifyStandIn) {
        self.system = system
        self.standIn = standIn
        channel = TestEnvironment.uniqueName("chan")
        shop = channel + ".myshopify.com"
    }

    static func with(_ body: (ChannelSyncFixture) async throws -> Void) async throws {
        try await OrderSystemFixture.with { system in
            let standIn = ShopifyStandIn()
            try await standIn.start()
            do {
                try await body(ChannelSyncFixture(system: system, standIn: standIn))
            } catch {
                await standIn.stop()
                throw error
            }
            await standIn.stop()
        }
    }

    func configuration(_ overrides: [String: String] = [:]) throws -> ChannelSyncConfiguration {
        var configuration = try ChannelSyncConfiguration(environment: EnvironmentConfiguration(system.environment.merging([
            "SHOPIFY_ADMIN_URL": standIn.url, "SHOPIFY_ADMIN_TOKEN": ShopifyStandIn.token, "SHOPIFY_SHOP_DOMAIN": shop,
            "SHOPIFY_LOCATION_ID": "\(Self.locationId)", "SHOPIFY_TIMEOUT_MS": "10000",
        ].merging(overrides) { $1 }) { $1 }))
        configuration.channel = channel
        return configuration
    }

    static let locationId: Int64 = 655_441_491

    /// Runs channel-sync's services (the loops only when `periodic`) until `body` returns.
    func withChannelSync<T>(
        _ overrides: [String: String] = [:], periodic: Bool = false, _ body: (ChannelSyncApp) async throws -> T
    ) async throws -> T {
        var logger = Logger(label: "test-channel-sync")
        logger.logLevel = .warning
        let app = try ChannelSyncApp(configuration: try configuration(overrides), logger: logger, periodic: periodic)
        return try await system.withServices(app.services, logger: logger) { try await body(app) }
    }

    /// A vendor of this fixture's own, that no stock-sync run syncs: a burst of
    /// orders on its products holds no stock row another test's sync must lock
    /// (a sync locks every row of its vendor's products, and every hold there, while it waits).
    var ownVendor: String { "v-" + channel }

    /// A new product (stocked at `vendor`, vendorA by default) sold on the channel under `sku`, with a fresh inventory item id.
    func mappedProduct(_ name: String, stock: Int, sku: String? = nil, vendor: String = "vendorA") throws -> (product: String, sku: String, item: Int64) {
        if vendor != "vendorA" {
            try TestEnvironment.withOrdersDatabase {
                _ = try $0.query("INSERT INTO vendors (id, name) VALUES ($1, $1) ON CONFLICT DO NOTHING", [vendor])
            }
        }
        let product = try system.product(name, stock: [vendor: stock])
        let item = Int64.random(in: 1_000_000_000...9_000_000_000_000)
        let sku = sku ?? "SKU-" + product
        let channel = channel
        try TestEnvironment.withOrdersDatabase {
            try SKUMappings.set(sku: sku, channel: channel, productId: product, inventoryItemId: item, on: $0)
        }
        return (product, sku, item)
    }

    /// Our available figure: the sum over vendors.
    func available(_ product: String) throws -> Int { try system.stock(of: product).values.reduce(0, +) }

    func setStock(_ product: String, _ stock: Int) throws {
        try TestEnvironment.withOrdersDatabase {
            _ = try $0.query("UPDATE vendor_stock SET stock = $1 WHERE product_id = $2", [stock, product])
        }
    }

    /// What `channel_stock` says the channel last accepted.
    func recorded(_ product: String) throws -> Int? {
        let channel = channel
        return try TestEnvironment.withOrdersDatabase {
            try $0.query("SELECT available FROM channel_stock WHERE channel = $1 AND product_id = $2", [channel, product]).first?.decode(0, as: Int.self)
        }
    }

    var orderIDs: OrderID { get throws { try OrderID(secret: TestEnvironment.orderIdSecret) } }
}
