import AMQP
import Logging
import Messaging
import Postgres
import ServiceLifecycle
import ServiceSupport
import StripeAPI
import Topology

/// Everything payment-worker runs, built from its configuration: tests run the same thing in-process.
public struct PaymentWorkerApp {
    public let services: [any Service]
    public let breaker: CircuitBreaker
    public let handler: PaymentCommandHandler

    public init(configuration: PaymentWorkerConfiguration, logger: Logger) throws {
        ProcessMetrics.bootstrap()
        let postgres = try PostgresConfiguration(url: configuration.databaseURL)
        let amqp = try AMQPConfiguration(url: configuration.amqpURL, connectionName: "payment-worker")
        // Each command touches the database at most twice, briefly: a few connections serve the window.
        let database = PostgresPool(configuration: postgres, size: min(configuration.concurrency, 4), logger: logger)
        breaker = CircuitBreaker(dependency: .paymentGateway, policy: configuration.breaker, logger: logger)
        let http = OutboundHTTPClient(concurrency: configuration.concurrency)
        handler = PaymentCommandHandler(
            gateway: StripeClient(configuration: configuration.stripe, http: http.client), intents: PaymentIntentStore(database: database), breaker: breaker,
            outcomesQueue: configuration.topology.paymentOutcomes.main)
        let worker = QueueWorker(
            configuration: QueueWorkerConfiguration(
                amqp: amqp, queues: configuration.topology.payments, settings: configuration.consume, workerName: "payment-worker"),
            handler: handler, logger: logger)
        // ServiceGroup stops services in reverse order: the worker finishes before the pool and the HTTP client close.
        services = [database, http, worker]
    }
}
