import Logging
import Messaging
import OrderCore
import ServiceSupport
import Shopify
import TextCodecs
import Topology

/// channel-sync's configuration, from the environment.
public struct ChannelSyncConfiguration: Sendable {
    public var amqpURL: String
    public var databaseURL: String
    public var topology: Topology
    /// The key order ids are derived with: order-api's, so an order found by
    /// reconciliation gets the id its webhook would have given it.
    public var orderIDs: OrderID
    public var shopify: ShopifyAdminClient.Configuration
    /// The shop's `*.myshopify.com` domain: part of each Shopify order's idempotency key.
    public var shop: String
    /// The Shopify location whose levels are ours.
    public var locationId: Int64
    /// The channel whose `sku_mappings` and `channel_stock` rows this instance
    /// keeps. Not an environment variable: a deployment has one Shopify channel;
    /// tests give each instance its own, so concurrent ones never share rows.
    public var channel: String = ShopifyOrder.channel
    /// How often changed figures are pushed: at most one push per product per interval.
    public var pushInterval: Duration
    public var reconcileInterval: Duration
    /// How far back reconciliation lists the channel's orders.
    public var reconcileLookback: Duration
    public var breaker: CircuitBreaker.Policy
    public var metrics: MetricsEndpoint
    /// When a cancellation's stock release announces an `inventory.*` event (`LOW_STOCK_THRESHOLD`).
    public var stockLevels: StockLevelPolicy
    /// Pushes in flight at once within a pass.
    public var pushConcurrency = 8
    /// How long an enqueued order may wait for its publisher confirm.
    public var publishTimeout: Duration = .seconds(5)

    /// Reads `AMQP_URL`, `DATABASE_URL`, `QUEUE_PREFIX` (""), `ORDER_ID_SECRET` (required),
    /// `SHOPIFY_ADMIN_URL` (required), `SHOPIFY_ADMIN_TOKEN`, `SHOPIFY_SHOP_DOMAIN`, `SHOPIFY_LOCATION_ID`,
    /// `SHOPIFY_TIMEOUT_MS` (10000), `CHANNEL_PUSH_INTERVAL_MS` (1000), `CHANNEL_RECONCILE_SECONDS` (300),
    /// `CHANNEL_RECONCILE_LOOKBACK_SECONDS` (86400), `CHANNEL_BREAKER_FAILURES` (5), `CHANNEL_BREAKER_OPEN_SECONDS` (30);
    /// `METRICS_HOST` (127.0.0.1) and `METRICS_PORT` (9104), where it serves `GET /metrics`.
    public init(environment: EnvironmentConfiguration = EnvironmentConfiguration()) throws {
        amqpURL = environment.amqpURL
        databaseURL = environment.databaseURL
        topology = try environment.topology()
        guard let secret = environment.optionalString(.orderIdSecret) else {
            throw ConfigurationError(.orderIdSecret, "is required: the same secret as order-api's, so a reconciled order gets its webhook's id")
        }
        do {
            orderIDs = try OrderID(secret: secret)
        } catch {
            throw ConfigurationError(.orderIdSecret, "must be at least \(OrderID.minimumSecretBytes) bytes, got \(secret.utf8.count)")
        }
        guard let adminURL = environment.optionalString(.shopifyAdminURL) else {
            throw ConfigurationError(.shopifyAdminURL, "is required: the Shopify Admin API to push stock to (https://<shop>.myshopify.com)")
        }
        shopify = ShopifyAdminClient.Configuration(
            adminURL: adminURL, accessToken: environment.string(.shopifyAdminToken, default: ""),
            timeout: .milliseconds(try environment.int(.shopifyTimeoutMilliseconds, default: 10_000, in: 100...120_000)))
        // Required: order ids of Shopify orders are derived from the shop's domain, and a
        // domain other than the one Shopify's webhooks name would give every order a second id.
        guard let shopDomain = environment.optionalString(.shopifyShopDomain), !shopDomain.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ConfigurationError(
                .shopifyShopDomain, "is required: the shop's <shop>.myshopify.com domain, exactly as its webhooks' X-Shopify-Shop-Domain names it")
        }
        shop = ShopifyOrder.normalizedShop(shopDomain)
        locationId = Int64(try environment.int(.shopifyLocationId, default: 1, in: 1...Int.max))
        pushInterval = .milliseconds(try environment.int(.channelPushIntervalMilliseconds, default: 1000, in: 50...3_600_000))
        reconcileInterval = .seconds(try environment.int(.channelReconcileSeconds, default: 300, in: 1...86_400))
        reconcileLookback = .seconds(try environment.int(.channelReconcileLookbackSeconds, default: 86_400, in: 60...(90 * 86_400)))
        stockLevels = StockLevelPolicy(threshold: try environment.lowStockThreshold())
        breaker = CircuitBreaker.Policy(
            failureThreshold: try environment.int(.channelBreakerFailures, default: 5, in: 1...1000),
            openDuration: .seconds(try environment.int(.channelBreakerOpenSeconds, default: 30, in: 1...3600)))
        metrics = try environment.metricsEndpoint(defaultPort: 9104)
    }

    /// What is logged at start: never the access token.
    public var logMetadata: Logger.Metadata {
        [
            LogKey.amqpURL: "\(URLRedaction.redact(amqpURL))", LogKey.databaseURL: "\(URLRedaction.redact(databaseURL))",
            LogKey.shopifyAdminURL: "\(URLRedaction.redact(shopify.adminURL))", LogKey.shop: "\(shop)", LogKey.locationId: "\(locationId)",
            "push_interval_ms": "\(Int(pushInterval.milliseconds))", "reconcile_seconds": "\(reconcileInterval.components.seconds)",
            "reconcile_lookback_seconds": "\(reconcileLookback.components.seconds)",
            LogKey.breakerFailures: "\(breaker.failureThreshold)", LogKey.breakerOpenSeconds: "\(breaker.openDuration.components.seconds)",
            "token": "\(shopify.accessToken.isEmpty ? "unset" : "set")",
        ].merging(metrics.logMetadata) { $1 }
    }
}

extension LogKey {
    /// channel-sync's configuration and passes.
    static let shopifyAdminURL = "shopify_admin_url", shop = "shop", locationId = "location_id"
}
