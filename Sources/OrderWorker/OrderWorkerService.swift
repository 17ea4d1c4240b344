import AMQP
import Logging
import Messaging
import OrderCore
import Postgres
import ServiceLifecycle
import ServiceSupport
import Topology

/// order-worker's configuration, from the environment.
public struct OrderWorkerConfiguration: Sendable {
    public var amqpURL: String
    public var databaseURL: String
    public var prefetch: Int
    public var batchSize: Int
    public var loops: Int
    public var maxRetries: Int
    public var topology: Topology

    /// Reads `AMQP_URL`, `DATABASE_URL`, `WORKER_PREFETCH` (2500), `WORKER_BATCH_SIZE` (1000: most orders per
    /// transaction, 1 turns batching off), `WORKER_CONCURRENCY` (2 loops),
    /// `MAX_RETRIES` (3), `RETRY_DELAY_MS` (5000), `QUEUE_PREFIX` ("").
    public init(environment: EnvironmentConfiguration = EnvironmentConfiguration()) throws {
        amqpURL = environment.string("AMQP_URL", default: Defaults.amqpURL)
        databaseURL = environment.string("DATABASE_URL", default: Defaults.databaseURL)
        prefetch = try environment.int("WORKER_PREFETCH", default: 2500, in: 1...65535)
        batchSize = try environment.int("WORKER_BATCH_SIZE", default: 1000, in: 1...1000)
        loops = try environment.int("WORKER_CONCURRENCY", default: 2, in: 1...256)
        maxRetries = try environment.retryPolicy().maxRetries
        topology = try environment.topology()
    }

    public var logMetadata: Logger.Metadata {
        [
            "amqp_url": "\(EnvironmentConfiguration.redact(amqpURL))", "database_url": "\(EnvironmentConfiguration.redact(databaseURL))",
            "prefetch": "\(prefetch)", "batch_size": "\(batchSize)", "concurrency": "\(loops)", "max_retries": "\(maxRetries)", "queue": "\(topology.orders.main)",
        ]
    }
}

/// Everything order-worker runs, built from its configuration: tests run the same thing in-process.
public struct OrderWorkerApp {
    public let services: [any Service]
    public let database: PostgresPool

    /// `wrap` lets a test observe the handler; production passes nothing.
    public init(
        configuration: OrderWorkerConfiguration, logger: Logger, wrap: (@Sendable (OrderMessageHandler) -> any DeliveryHandler)? = nil
    ) throws {
        database = PostgresPool(configuration: try PostgresConfiguration(url: configuration.databaseURL), size: configuration.loops, logger: logger)
        let handler = OrderMessageHandler(database: database, topology: configuration.topology)
        let worker = QueueWorker(
            configuration: QueueWorkerConfiguration(
                amqp: try AMQPConfiguration(url: configuration.amqpURL, connectionName: "order-worker"),
                queues: configuration.topology.orders, prefetch: UInt16(configuration.prefetch), batchSize: configuration.batchSize, loops: configuration.loops,
                retryPolicy: RetryPolicy(maxRetries: configuration.maxRetries), workerName: "order-worker"),
            handler: wrap.map { $0(handler) } ?? handler,
            logger: logger)
        // ServiceGroup stops services in reverse order: the worker finishes before the pool closes.
        let database = database
        services = [OnShutdown { await database.shutdown() }, worker]
    }
}
