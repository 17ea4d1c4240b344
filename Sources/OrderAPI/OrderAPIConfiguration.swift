import Logging
import OrderCore
import ServiceSupport
import TextCodecs
import Topology

/// order-api's configuration, from the environment.
public struct OrderAPIConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var amqpURL: String
    public var databaseURL: String
    /// Where the product listings read: they may be a little stale, so a standby may serve them
    /// (`READ_DATABASE_URL`, e.g. the cluster's hosts with `target_session_attrs=prefer-standby`).
    public var readDatabaseURL: String
    public var databasePoolSize: Int
    public var maxBodyBytes: Int
    public var publishTimeout: Duration
    public var topology: Topology
    /// Issues and recognises order ids (`ORDER_ID_SECRET`, required).
    public var orderIDs: OrderID
    /// What lifecycle commands (cancel, returns, holds) require as `Authorization: Bearer`;
    /// nil refuses them (`API_TOKEN` unset).
    public var apiToken: String?
    /// When products announce low stock from the API's own stock changes (cancels, returns, holds).
    public var stockLevels: StockLevelPolicy
    /// How long a checkout hold lasts when its request does not say.
    public var defaultHoldSeconds: Int
    /// Whether an order must carry a `payment` (`PAYMENTS_REQUIRED`).
    public var paymentsRequired: Bool
    /// The signing secret of the Stripe webhook endpoint; nil refuses webhooks (`STRIPE_WEBHOOK_SECRET` unset).
    public var stripeWebhookSecret: String?
    /// The Shopify app's webhook signing secret; nil refuses Shopify's order webhooks (`SHOPIFY_WEBHOOK_SECRET` unset).
    public var shopifyWebhookSecret: String?
    /// The token the warehouse's shipment callbacks carry; nil refuses them (`WMS_CALLBACK_TOKEN` unset).
    public var wmsCallbackToken: String?

    /// Reads `HTTP_HOST` (127.0.0.1), `HTTP_PORT` (8080), `AMQP_URL`, `DATABASE_URL`,
    /// `READ_DATABASE_URL` (`DATABASE_URL`), `DB_POOL_SIZE` (4),
    /// `MAX_BODY_BYTES` (65536), `PUBLISH_TIMEOUT_MS` (1500), `QUEUE_PREFIX` (""), `ORDER_ID_SECRET`
    /// (required: at least 16 bytes), `API_TOKEN` (unset: commands disabled; at least 16 bytes when set),
    /// `PAYMENTS_REQUIRED` (false), `STRIPE_WEBHOOK_SECRET` (unset: webhooks refused),
    /// `SHOPIFY_WEBHOOK_SECRET` (unset: Shopify's order webhooks refused), `WMS_CALLBACK_TOKEN`
    /// (unset: warehouse callbacks refused).
    public init(environment: EnvironmentConfiguration = EnvironmentConfiguration()) throws {
        guard let secret = environment.optionalString(.orderIdSecret) else {
            throw ConfigurationError(
                .orderIdSecret,
                "is required: order ids are signed with it (scripts/run keeps one in .local/order-id-secret; see docs/order-ids.md)")
        }
        do {
            orderIDs = try OrderID(secret: secret)
        } catch {
            throw ConfigurationError(.orderIdSecret, "must be at least \(OrderID.minimumSecretBytes) bytes, got \(secret.utf8.count)")
        }
        apiToken = environment.optionalString(.apiToken)
        // It authorizes every cancel, return and hold: as strong as the id secret.
        if let apiToken, apiToken.utf8.count < OrderID.minimumSecretBytes {
            throw ConfigurationError(.apiToken, "must be at least \(OrderID.minimumSecretBytes) bytes when set, got \(apiToken.utf8.count)")
        }
        stockLevels = StockLevelPolicy(threshold: try environment.lowStockThreshold())
        defaultHoldSeconds = try environment.reservationTTLSeconds()
        paymentsRequired = try environment.bool(.paymentsRequired, default: false)
        stripeWebhookSecret = environment.optionalString(.stripeWebhookSecret)
        shopifyWebhookSecret = environment.optionalString(.shopifyWebhookSecret)
        wmsCallbackToken = environment.optionalString(.wmsCallbackToken)
        // As API_TOKEN: a short bearer token can be guessed.
        if let wmsCallbackToken, wmsCallbackToken.utf8.count < OrderID.minimumSecretBytes {
            throw ConfigurationError(
                .wmsCallbackToken, "must be at least \(OrderID.minimumSecretBytes) bytes when set, got \(wmsCallbackToken.utf8.count)")
        }
        host = environment.string(.httpHost, default: "127.0.0.1")
        port = try environment.int(.httpPort, default: 8080, in: 0...65535)
        amqpURL = environment.amqpURL
        databaseURL = environment.databaseURL
        readDatabaseURL = environment.optionalString(.readDatabaseURL) ?? databaseURL
        databasePoolSize = try environment.int(.databasePoolSize, default: 4, in: 1...100)
        maxBodyBytes = try environment.int(.maxBodyBytes, default: 64 * 1024, in: 1...(16 << 20))
        publishTimeout = .milliseconds(try environment.int(.publishTimeoutMilliseconds, default: 1500, in: 1...60_000))
        topology = Topology(prefix: environment.queuePrefix)
    }

    public var logMetadata: Logger.Metadata {
        [
            "address": "\(host):\(port)", LogKey.amqpURL: "\(URLRedaction.redact(amqpURL))",
            LogKey.databaseURL: "\(URLRedaction.redact(databaseURL))", "read_database_url": "\(URLRedaction.redact(readDatabaseURL))",
            "db_pool_size": "\(databasePoolSize)",
            "max_body_bytes": "\(maxBodyBytes)", "publish_timeout": "\(publishTimeout)", "queue": "\(topology.orders.main)",
            "commands": "\(apiToken == nil ? "disabled (API_TOKEN unset)" : "enabled")",
            "payments_required": "\(paymentsRequired)",
            "stripe_webhooks": "\(stripeWebhookSecret == nil ? "disabled (STRIPE_WEBHOOK_SECRET unset)" : "enabled")",
            "shopify_webhooks": "\(shopifyWebhookSecret == nil ? "disabled (SHOPIFY_WEBHOOK_SECRET unset)" : "enabled")",
            "wms_callbacks": "\(wmsCallbackToken == nil ? "disabled (WMS_CALLBACK_TOKEN unset)" : "enabled")",
        ]
    }
}
