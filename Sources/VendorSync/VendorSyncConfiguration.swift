import Logging
import Messaging
import OrderCore
import ServiceSupport
import TextCodecs
import Topology

/// vendor-sync-worker's configuration, from the environment.
public struct VendorSyncConfiguration: Sendable {
    public var amqpURL: String
    public var databaseURL: String
    public var vendorDatabaseURLs: [(name: String, url: String)]
    public var consume: ConsumeSettings
    public var topology: Topology
    /// When a reallocation's stock change announces an `inventory.*` event (`LOW_STOCK_THRESHOLD`).
    public var stockLevels: StockLevelPolicy
    /// Each vendor database's circuit breaker (`VENDOR_BREAKER_FAILURES`, `VENDOR_BREAKER_OPEN_SECONDS`).
    public var vendorBreaker: CircuitBreaker.Policy
    public var metrics: MetricsEndpoint

    /// Reads `AMQP_URL`, `DATABASE_URL`, `VENDOR_DATABASE_URLS`, `QUEUE_PREFIX` (""), `RETRY_DELAY_MS`
    /// (5000) and the `VENDOR_SYNC_` consume settings (`EnvironmentConfiguration.consumeSettings`):
    /// `VENDOR_SYNC_PREFETCH`, `VENDOR_SYNC_BATCH_SIZE`, `VENDOR_SYNC_CONCURRENCY`, `VENDOR_SYNC_LINGER_MS`, and `MAX_RETRIES`;
    /// `VENDOR_BREAKER_FAILURES` (3) and `VENDOR_BREAKER_OPEN_SECONDS` (5), each vendor database's breaker;
    /// `METRICS_HOST` (127.0.0.1) and `METRICS_PORT` (9102), where it serves `GET /metrics`.
    public init(environment: EnvironmentConfiguration = EnvironmentConfiguration()) throws {
        amqpURL = environment.amqpURL
        databaseURL = environment.databaseURL
        vendorDatabaseURLs = try environment.vendorDatabaseURLs()
        consume = try environment.consumeSettings(.vendorSync, maxLoops: 64)
        topology = try environment.topology()
        stockLevels = StockLevelPolicy(threshold: try environment.lowStockThreshold())
        vendorBreaker = CircuitBreaker.Policy(
            failureThreshold: try environment.int(.vendorBreakerFailures, default: 3, in: 1...1000),
            openDuration: .seconds(try environment.int(.vendorBreakerOpenSeconds, default: 5, in: 1...3600)))
        metrics = try environment.metricsEndpoint(defaultPort: 9102)
    }

    public var logMetadata: Logger.Metadata {
        [
            LogKey.amqpURL: "\(URLRedaction.redact(amqpURL))", LogKey.databaseURL: "\(URLRedaction.redact(databaseURL))",
            LogKey.vendors: "\(vendorDatabaseURLs.map { "\($0.name)=\(URLRedaction.redact($0.url))" }.joined(separator: ","))",
            LogKey.queue: "\(topology.vendorSync.main)", LogKey.breakerFailures: "\(vendorBreaker.failureThreshold)",
            LogKey.breakerOpenSeconds: "\(vendorBreaker.openDuration.components.seconds)",
        ].merging(consume.logMetadata) { $1 }.merging(metrics.logMetadata) { $1 }
    }
}
