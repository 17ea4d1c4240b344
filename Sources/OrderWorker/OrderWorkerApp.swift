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
    /// What its loops wait for, which its `/health/ready` answers with.
    public let status: DependencyStatus

    /// `wrap` lets a test observe the handler, and `status` keep its workers' readiness apart; production passes neither.
    public init(
        configuration: OrderWorkerConfiguration, logger: Logger, status: DependencyStatus = .process,
        wrap: (@Sendable (OrderMessageHandler) -> any DeliveryHandler)? = nil
    ) throws {
        self.status = status
        ProcessMetrics.bootstrap()
        let postgres = try PostgresConfiguration(url: configuration.databaseURL)
        let amqp = try AMQPConfiguration(url: configuration.amqpURL, connectionName: "order-worker")
        database = PostgresPool(configuration: postgres, size: configuration.consume.loops, logger: logger)
        let handler = OrderMessageHandler(database: database, topology: configuration.topology, settings: configuration.applierSettings)
        let worker = QueueWorker(
            configuration: QueueWorkerConfiguration(
                amqp: amqp, queues: configuration.topology.orders, settings: configuration.consume, workerName: "order-worker",
                status: status),
            handler: wrap.map { $0(handler) } ?? handler,
            logger: logger)
        let routing = OutboxRouting(
            orderEvents: configuration.topology.orderEvents, vendorSyncQueue: configuration.topology.vendorSync.main,
            paymentsQueue: configuration.topology.payments.main, stockLevels: StockLevelPolicy(threshold: configuration.lowStockThreshold))
        // The one writer of order state takes the payment outcomes too.
        let outcomes = QueueWorker(
            configuration: QueueWorkerConfiguration(
                amqp: try AMQPConfiguration(url: configuration.amqpURL, connectionName: "order-worker-payments"),
                queues: configuration.topology.paymentOutcomes, settings: PaymentOutcomeHandler.consumeSettings(configuration.consume),
                workerName: "order-worker", status: status),
            handler: PaymentOutcomeHandler(database: database, routing: routing),
            logger: logger)
        let sweeper = ReservationSweeper(database: database, settings: configuration.sweeper, routing: routing, logger: logger, status: status)
        let relayDatabase = PostgresPool(configuration: postgres, size: 1, logger: logger)
        let relay = OutboxRelay(
            configuration: OutboxRelay.Configuration(
                amqp: try AMQPConfiguration(url: configuration.amqpURL, connectionName: "order-worker-outbox"),
                scope: configuration.topology.outboxScope, batchSize: configuration.outboxBatchSize, pollInterval: configuration.outboxPollInterval,
                status: status),
            database: relayDatabase, logger: logger)
        // ServiceGroup stops services in reverse order: the workers, the sweeper and the relay finish before their pools close.
        services = [database, relayDatabase, worker, outcomes, sweeper, relay]
    }
}
