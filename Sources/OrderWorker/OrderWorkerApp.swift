import AMQP
import Logging
import Messaging
import OrderCore
import OrderStore
import Postgres
import ServiceLifecycle
import ServiceSupport
import TextCodecs
import Topology

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
        let sweeper = ReservationSweeper(
            database: database, settings: configuration.sweeper,
            routing: OutboxRouting(orderEvents: configuration.topology.orderEvents, vendorSyncQueue: configuration.topology.vendorSync.main,
                                   stockLevels: StockLevelPolicy(threshold: 5)),
            logger: logger)
        // ServiceGroup stops services in reverse order: the worker finishes before the pool closes.
        services = [database, worker, sweeper]
    }
}
