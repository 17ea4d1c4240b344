import AMQP
import Logging
import Messaging
import OrderCore
import Postgres
import ServiceLifecycle
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

    /// Reads `AMQP_URL`, `DATABASE_URL`, `VENDOR_DATABASE_URLS`, `QUEUE_PREFIX` (""), `RETRY_DELAY_MS`
    /// (5000) and the `VENDOR_SYNC_` consume settings (`EnvironmentConfiguration.consumeSettings`):
    /// `VENDOR_SYNC_PREFETCH`, `VENDOR_SYNC_BATCH_SIZE`, `VENDOR_SYNC_CONCURRENCY`, `VENDOR_SYNC_LINGER_MS`, and `MAX_RETRIES`.
    public init(environment: EnvironmentConfiguration = EnvironmentConfiguration()) throws {
        amqpURL = environment.amqpURL
        databaseURL = environment.databaseURL
        vendorDatabaseURLs = try environment.vendorDatabaseURLs()
        consume = try environment.consumeSettings(prefix: "VENDOR_SYNC", maxLoops: 64)
        topology = try environment.topology()
    }

    public var logMetadata: Logger.Metadata {
        [
            "amqp_url": "\(URLRedaction.redact(amqpURL))", "database_url": "\(URLRedaction.redact(databaseURL))",
            "vendors": "\(vendorDatabaseURLs.map { "\($0.name)=\(URLRedaction.redact($0.url))" }.joined(separator: ","))",
            "queue": "\(topology.vendorSync.main)",
        ].merging(consume.logMetadata) { $1 }
    }
}

/// Everything vendor-sync-worker runs (the executable and the tests use the same).
public struct VendorSyncApp {
    public let services: [any Service]

    public init(configuration: VendorSyncConfiguration, logger: Logger) throws {
        let orders = PostgresPool(configuration: try PostgresConfiguration(url: configuration.databaseURL), size: configuration.consume.loops, logger: logger)
        var vendors: [String: PostgresPool] = [:]
        for vendor in configuration.vendorDatabaseURLs {
            vendors[vendor.name] = PostgresPool(configuration: try PostgresConfiguration(url: vendor.url), size: configuration.consume.loops, logger: logger)
        }
        let worker = QueueWorker(
            configuration: QueueWorkerConfiguration(
                amqp: try AMQPConfiguration(url: configuration.amqpURL, connectionName: "vendor-sync-worker"),
                queues: configuration.topology.vendorSync, settings: configuration.consume, workerName: "vendor-sync-worker"),
            handler: VendorSyncHandler(orders: orders, vendors: vendors),
            logger: logger)
        // Stopped in reverse order: the worker finishes before the pools close.
        let pools = [orders] + Array(vendors.values)
        services = [OnShutdown { for pool in pools { await pool.shutdown() } }, worker]
    }
}
