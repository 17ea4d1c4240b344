import Logging
import Messaging
import OrderCore
import ServiceSupport
import TextCodecs
import Topology

/// fulfilment-worker's configuration, from the environment.
public struct FulfilmentWorkerConfiguration: Sendable {
    public var amqpURL: String
    public var databaseURL: String
    public var topology: Topology
    public var warehouse: WarehouseClient.Configuration
    /// Orders sent to the warehouse at once (one window's calls, concurrent).
    public var concurrency: Int
    /// Unacknowledged deliveries; at least `concurrency`.
    public var prefetch: Int
    public var retryPolicy: RetryPolicy
    public var breaker: CircuitBreaker.Policy
    /// Where `/health/live` and `/health/ready` are served.
    public var host: String
    public var port: Int
    /// The `inventory.*` threshold the outbox routing is built with (no fulfilment step moves stock).
    public var stockLevels: StockLevelPolicy

    /// Reads `AMQP_URL`, `DATABASE_URL`, `QUEUE_PREFIX` (""), `FULFILMENT_RETRY_DELAYS_MS` (5000,30000,300000),
    /// `WMS_URL` (required), `WMS_TOKEN` (unset: no Authorization header), `WMS_TIMEOUT_MS` (5000),
    /// `FULFILMENT_CONCURRENCY` (8), `FULFILMENT_PREFETCH` (twice the concurrency), `FULFILMENT_MAX_RETRIES` (10),
    /// `FULFILMENT_BREAKER_FAILURES` (5), `FULFILMENT_BREAKER_OPEN_SECONDS` (30),
    /// `FULFILMENT_HTTP_HOST` (127.0.0.1), `FULFILMENT_HTTP_PORT` (8082).
    public init(environment: EnvironmentConfiguration = EnvironmentConfiguration()) throws {
        amqpURL = environment.amqpURL
        databaseURL = environment.databaseURL
        topology = try environment.topology()
        guard let url = environment.optionalString(.wmsURL) else {
            throw ConfigurationError(.wmsURL, "is required: the warehouse's base URL (fulfilment-worker POSTs to $WMS_URL/fulfillments)")
        }
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
            throw ConfigurationError(.wmsURL, "must be an http:// or https:// URL, got '\(URLRedaction.redact(url))'")
        }
        warehouse = WarehouseClient.Configuration(
            baseURL: url, token: environment.optionalString(.wmsToken),
            timeout: .milliseconds(try environment.int(.wmsTimeoutMilliseconds, default: 5_000, in: 100...120_000)))
        let concurrency = try environment.int(.fulfilmentConcurrency, default: 8, in: 1...1000)
        let prefetch = try environment.int(.fulfilmentPrefetch, default: 2 * concurrency, in: 1...65535)
        guard prefetch >= concurrency else {
            throw ConfigurationError(
                .fulfilmentPrefetch, "must be at least FULFILMENT_CONCURRENCY (\(concurrency)), got \(prefetch): a window is at most the prefetch")
        }
        self.concurrency = concurrency
        self.prefetch = prefetch
        retryPolicy = RetryPolicy(maxRetries: try environment.int(.fulfilmentMaxRetries, default: 10, in: 0...1000))
        breaker = CircuitBreaker.Policy(
            failureThreshold: try environment.int(.fulfilmentBreakerFailures, default: 5, in: 1...1000),
            openDuration: .seconds(try environment.int(.fulfilmentBreakerOpenSeconds, default: 30, in: 1...3600)))
        host = environment.string(.fulfilmentHTTPHost, default: "127.0.0.1")
        port = try environment.int(.fulfilmentHTTPPort, default: 8082, in: 0...65535)
        stockLevels = StockLevelPolicy(threshold: try environment.lowStockThreshold())
    }

    /// One loop whose window is up to `concurrency` orders, their calls concurrent.
    public var consume: ConsumeSettings {
        ConsumeSettings(prefetch: prefetch, batchSize: concurrency, loops: 1, linger: .zero, retryPolicy: retryPolicy)
    }

    /// What is logged at start: never the token.
    public var logMetadata: Logger.Metadata {
        [
            LogKey.amqpURL: "\(URLRedaction.redact(amqpURL))", LogKey.databaseURL: "\(URLRedaction.redact(databaseURL))",
            LogKey.queue: "\(topology.fulfilment.main)", LogKey.wmsURL: "\(URLRedaction.redact(warehouse.baseURL))",
            LogKey.wmsToken: "\(warehouse.token == nil ? "unset" : "set")",
            LogKey.wmsTimeoutMilliseconds: "\(Int(warehouse.timeout.milliseconds))", LogKey.concurrency: "\(concurrency)",
            LogKey.prefetch: "\(prefetch)", LogKey.maxRetries: "\(retryPolicy.maxRetries)",
            LogKey.retryDelays: "\(topology.fulfilmentRetryDelaysMilliseconds.map(String.init).joined(separator: ","))",
            LogKey.breakerFailures: "\(breaker.failureThreshold)", LogKey.breakerOpenSeconds: "\(breaker.openDuration.components.seconds)",
            "address": "\(host):\(port)",
        ]
    }
}

extension LogKey {
    /// fulfilment-worker's configuration.
    static let wmsURL = "wms_url", wmsToken = "wms_token", wmsTimeoutMilliseconds = "wms_timeout_ms", retryDelays = "retry_delays_ms"
}
