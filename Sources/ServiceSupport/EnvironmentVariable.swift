/// Every environment variable the project reads, in one registry: the
/// readers of ``EnvironmentConfiguration`` take their names from it, the
/// start-up check of a daemon compares the environment against it (a
/// variable that is not here but looks like one that is gets a warning), and
/// the README's configuration table lists exactly these (a test compares them).
public enum EnvironmentVariable: String, CaseIterable, Sendable {
    // Every process.
    case amqpURL = "AMQP_URL"
    case amqpURLs = "AMQP_URLS"
    case databaseURL = "DATABASE_URL"
    case vendorDatabaseURLs = "VENDOR_DATABASE_URLS"
    case logLevel = "LOG_LEVEL"
    case queuePrefix = "QUEUE_PREFIX"

    // orderctl.
    case migrationsDirectory = "MIGRATIONS_DIR"
    case quorumInitialGroupSize = "QUORUM_INITIAL_GROUP_SIZE"

    // order-api.
    case httpHost = "HTTP_HOST"
    case httpPort = "HTTP_PORT"
    case databasePoolSize = "DB_POOL_SIZE"
    case readDatabaseURL = "READ_DATABASE_URL"
    case maxBodyBytes = "MAX_BODY_BYTES"
    case publishTimeoutMilliseconds = "PUBLISH_TIMEOUT_MS"
    case orderIdSecret = "ORDER_ID_SECRET"
    case apiToken = "API_TOKEN"

    // The queue workers.
    case workerPrefetch = "WORKER_PREFETCH"
    case workerBatchSize = "WORKER_BATCH_SIZE"
    case workerConcurrency = "WORKER_CONCURRENCY"
    case workerLingerMilliseconds = "WORKER_LINGER_MS"
    case vendorSyncPrefetch = "VENDOR_SYNC_PREFETCH"
    case vendorSyncBatchSize = "VENDOR_SYNC_BATCH_SIZE"
    case vendorSyncConcurrency = "VENDOR_SYNC_CONCURRENCY"
    case vendorSyncLingerMilliseconds = "VENDOR_SYNC_LINGER_MS"
    case vendorBreakerFailures = "VENDOR_BREAKER_FAILURES"
    case vendorBreakerOpenSeconds = "VENDOR_BREAKER_OPEN_SECONDS"
    case maxRetries = "MAX_RETRIES"
    case retryDelayMilliseconds = "RETRY_DELAY_MS"

    // order-worker's reservation sweeper.
    case sweeperIntervalSeconds = "SWEEPER_INTERVAL_SECONDS"
    case sweeperBatch = "SWEEPER_BATCH"
    // order-worker: the lifecycle and its events.
    case reservationTTLSeconds = "RESERVATION_TTL_SECONDS"
    case lowStockThreshold = "LOW_STOCK_THRESHOLD"
    case outboxPollMilliseconds = "OUTBOX_POLL_MILLISECONDS"
    case outboxBatchSize = "OUTBOX_BATCH_SIZE"

    // Payments: order-api (webhooks, the rule), payment-worker (the gateway).
    case paymentsRequired = "PAYMENTS_REQUIRED"
    case stripeAPIBase = "STRIPE_API_BASE"
    case stripeSecretKey = "STRIPE_SECRET_KEY"
    case stripeWebhookSecret = "STRIPE_WEBHOOK_SECRET"
    case stripeTimeoutMilliseconds = "STRIPE_TIMEOUT_MS"
    case paymentConcurrency = "PAYMENT_CONCURRENCY"
    case paymentBreakerFailures = "PAYMENT_BREAKER_FAILURES"
    case paymentBreakerOpenSeconds = "PAYMENT_BREAKER_OPEN_SECONDS"
    case localstripePort = "LOCALSTRIPE_PORT"

    // Sales channels: order-api (Shopify's order webhooks).
    case shopifyWebhookSecret = "SHOPIFY_WEBHOOK_SECRET"

    // stock-sync.
    case stockSyncIntervalSeconds = "STOCK_SYNC_INTERVAL_SECONDS"
    case stockSyncHTTPHost = "STOCK_SYNC_HTTP_HOST"
    case stockSyncHTTPPort = "STOCK_SYNC_HTTP_PORT"
    case stockAPIToken = "STOCK_API_TOKEN"

    // fulfilment-worker (FULFILMENT_RETRY_DELAYS_MS also by orderctl, which declares its queues).
    case wmsURL = "WMS_URL"
    case wmsToken = "WMS_TOKEN"
    case wmsTimeoutMilliseconds = "WMS_TIMEOUT_MS"
    case fulfilmentPrefetch = "FULFILMENT_PREFETCH"
    case fulfilmentConcurrency = "FULFILMENT_CONCURRENCY"
    case fulfilmentMaxRetries = "FULFILMENT_MAX_RETRIES"
    case fulfilmentRetryDelaysMilliseconds = "FULFILMENT_RETRY_DELAYS_MS"
    case fulfilmentBreakerFailures = "FULFILMENT_BREAKER_FAILURES"
    case fulfilmentBreakerOpenSeconds = "FULFILMENT_BREAKER_OPEN_SECONDS"
    case fulfilmentHTTPHost = "FULFILMENT_HTTP_HOST"
    case fulfilmentHTTPPort = "FULFILMENT_HTTP_PORT"
    // order-api: the warehouse's shipment callbacks.
    case wmsCallbackToken = "WMS_CALLBACK_TOKEN"
    // channel-sync: Shopify's Admin API, the push loop, reconciliation.
    case shopifyAdminURL = "SHOPIFY_ADMIN_URL"
    case shopifyAdminToken = "SHOPIFY_ADMIN_TOKEN"
    case shopifyShopDomain = "SHOPIFY_SHOP_DOMAIN"
    case shopifyLocationId = "SHOPIFY_LOCATION_ID"
    case shopifyTimeoutMilliseconds = "SHOPIFY_TIMEOUT_MS"
    case channelPushIntervalMilliseconds = "CHANNEL_PUSH_INTERVAL_MS"
    case channelReconcileSeconds = "CHANNEL_RECONCILE_SECONDS"
    case channelReconcileLookbackSeconds = "CHANNEL_RECONCILE_LOOKBACK_SECONDS"
    case channelBreakerFailures = "CHANNEL_BREAKER_FAILURES"
    case channelBreakerOpenSeconds = "CHANNEL_BREAKER_OPEN_SECONDS"

    // Operations: the queue workers' metrics endpoint, the operator console.
    case metricsHost = "METRICS_HOST"
    case metricsPort = "METRICS_PORT"
    case consoleHTTPHost = "CONSOLE_HTTP_HOST"
    case consoleHTTPPort = "CONSOLE_HTTP_PORT"
    case consoleToken = "CONSOLE_TOKEN"

    // The tests and scripts/services.
    case rabbitMQManagementURL = "RABBITMQ_MANAGEMENT_URL"
    case stateDirectory = "ORDERS_STATE_DIR"

    public var name: String { rawValue }

    /// The known variable `name` most likely stands for when it is not one
    /// itself: the nearest within two edits (insertions, deletions,
    /// substitutions), compared in upper case; nil for a known name or one
    /// that looks like none.
    public static func lookalike(of name: String) -> EnvironmentVariable? {
        guard EnvironmentVariable(rawValue: name) == nil else { return nil }
        let upper = Array(name.uppercased().utf8)
        var best: (variable: EnvironmentVariable, distance: Int)?
        for variable in allCases {
            let known = Array(variable.rawValue.utf8)
            guard abs(known.count - upper.count) <= maximumEdits else { continue }
            let distance = editDistance(upper, known)
            if distance <= maximumEdits, distance < best?.distance ?? .max { best = (variable, distance) }
        }
        return best?.variable
    }

    static let maximumEdits = 2

    /// Levenshtein distance, one row at a time.
    static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1] + Array(repeating: 0, count: b.count)
            for (j, y) in b.enumerated() {
                current[j + 1] = min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
