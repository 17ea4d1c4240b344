import AMQP
import Logging
import Messaging
import OrderCore
import Postgres
import ServiceLifecycle
import ServiceSupport
import Topology

/// vendor-sync-worker's configuration, from the environment.
public struct VendorSyncConfiguration: Sendable {
    public var amqpURL: String
    public var databaseURL: String
    public var vendorDatabaseURLs: [(name: String, url: String)]
    public var prefetch: Int
    public var batchSize: Int
    public var loops: Int
    public var maxRetries: Int
    public var topology: Topology

    /// Reads `AMQP_URL`, `DATABASE_URL`, `VENDOR_DATABASE_URLS`, `VENDOR_SYNC_PREFETCH` (2500),
    /// `VENDOR_SYNC_BATCH_SIZE` (1000: most allocations per vendor transaction, 1 turns batching off),
    /// `VENDOR_SYNC_CONCURRENCY` (2), `MAX_RETRIES` (3), `RETRY_DELAY_MS` (5000), `QUEUE_PREFIX` ("").
    public init(environment: EnvironmentConfiguration = EnvironmentConfiguration()) throws {
        amqpURL = environment.string("AMQP_URL", default: Defaults.amqpURL)
        databaseURL = environment.string("DATABASE_URL", default: Defaults.databaseURL)
        vendorDatabaseURLs = try environment.namedURLs("VENDOR_DATABASE_URLS", default: Defaults.vendorDatabaseURLs)
        prefetch = try environment.int("VENDOR_SYNC_PREFETCH", default: 2500, in: 1...65535)
        batchSize = try environment.int("VENDOR_SYNC_BATCH_SIZE", default: 1000, in: 1...1000)
        loops = try environment.int("VENDOR_SYNC_CONCURRENCY", default: 2, in: 1...64)
        maxRetries = try environment.retryPolicy().maxRetries
        topology = try environment.topology()
    }

    public var logMetadata: Logger.Metadata {
        [
            "amqp_url": "\(EnvironmentConfiguration.redact(amqpURL))", "database_url": "\(EnvironmentConfiguration.redact(databaseURL))",
            "vendors": "\(vendorDatabaseURLs.map { "\($0.name)=\(EnvironmentConfiguration.redact($0.url))" }.joined(separator: ","))",
            "prefetch": "\(prefetch)", "batch_size": "\(batchSize)", "concurrency": "\(loops)", "max_retries": "\(maxRetries)", "queue": "\(topology.vendorSync.main)",
        ]
    }
}

/// Everything vendor-sync-worker runs (the executable and the tests use the same).
public struct VendorSyncApp {
    public let services: [any Service]

    public init(configuration: VendorSyncConfiguration, logger: Logger) throws {
        let orders = PostgresPool(configuration: try PostgresConfiguration(url: configuration.databaseURL), size: configuration.loops, logger: logger)
        var vendors: [String: PostgresPool] = [:]
        for vendor in configuration.vendorDatabaseURLs {
            vendors[vendor.name] = PostgresPool(configuration: try PostgresConfiguration(url: vendor.url), size: configuration.loops, logger: logger)
        }
        let worker = QueueWorker(
            configuration: QueueWorkerConfiguration(
                amqp: try AMQPConfiguration(url: configuration.amqpURL, connectionName: "vendor-sync-worker"),
                queues: configuration.topology.vendorSync, prefetch: UInt16(configuration.prefetch), batchSize: configuration.batchSize, loops: configuration.loops,
                retryPolicy: RetryPolicy(maxRetries: configuration.maxRetries), workerName: "vendor-sync-worker"),
            handler: VendorSyncHandler(orders: orders, vendors: vendors),
            logger: logger)
        // Stopped in reverse order: the worker finishes before the pools close.
        let pools = [orders] + Array(vendors.values)
        services = [OnShutdown { for pool in pools { await pool.shutdown() } }, worker]
    }
}
