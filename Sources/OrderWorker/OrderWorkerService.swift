import AMQP
import Logging
import Messaging
import OrderCore
import Postgres
import ServiceLifecycle
import ServiceSupport
import TextCodecs
import Topology

/// order-worker's configuration, from the environment.
public struct OrderWorkerConfiguration: Sendable {
    public var amqpURL: String
    public var databaseURL: String
    public var consume: ConsumeSettings
    public var topology: Topology

    /// Reads `AMQP_URL`, `DATABASE_URL`, `QUEUE_PREFIX` (""), `RETRY_DELAY_MS` (5000) and the
    /// `WORKER_` consume settings (`EnvironmentConfiguration.consumeSettings`): `WORKER_PREFETCH`,
    /// `WORKER_BATCH_SIZE`, `WORKER_CONCURRENCY`, `WORKER_LINGER_MS`, and `MAX_RETRIES`.
    public init(environment: EnvironmentConfiguration = EnvironmentConfiguration()) throws {
        amqpURL = environment.amqpURL
        databaseURL = environment.databaseURL
        consume = try environment.consumeSettings(prefix: "WORKER", maxLoops: 256)
        topology = try environment.topology()
    }

    public var logMetadata: Logger.Metadata {
        [
            "amqp_url": "\(URLRedaction.redact(amqpURL))", "database_url": "\(URLRedaction.redact(databaseURL))",
            "queue": "\(topology.orders.main)",
        ].merging(consume.logMetadata) { $1 }
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
        database = PostgresPool(configuration: try PostgresConfiguration(url: configuration.databaseURL), size: configuration.consume.loops, logger: logger)
        let handler = OrderMessageHandler(database: database, topology: configuration.topology)
        let worker = QueueWorker(
            configuration: QueueWorkerConfiguration(
                amqp: try AMQPConfiguration(url: configuration.amqpURL, connectionName: "order-worker"),
                queues: configuration.topology.orders, settings: configuration.consume, workerName: "order-worker"),
            handler: wrap.map { $0(handler) } ?? handler,
            logger: logger)
        // ServiceGroup stops services in reverse order: the worker finishes before the pool closes.
        let database = database
        services = [OnShutdown { await database.shutdown() }, worker]
    }
}
