import AMQP
import AsyncHTTPClient
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
        let postgres = try PostgresConfiguration(url: configuration.databaseURL)
        let amqp = try AMQPConfiguration(url: configuration.amqpURL, connectionName: "payment-worker")
        // Each command touches the database at most twice, briefly: a few connections serve the window.
        let database = PostgresPool(configuration: postgres, size: min(configuration.concurrency, 4), logger: logger)
        breaker = CircuitBreaker(name: "stripe", policy: configuration.breaker, logger: logger)
        // One connection per call in flight: the shared client's default of 8 per host would
        // make calls beyond the eighth wait for a connection, and the wait counts against the deadline.
        let http = HTTPClient(
            eventLoopGroup: HTTPClient.defaultEventLoopGroup,
            configuration: HTTPClient.Configuration(
                connectionPool: HTTPClient.Configuration.ConnectionPool(
                    idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: configuration.concurrency)))
        handler = PaymentCommandHandler(
            gateway: StripeClient(configuration: configuration.stripe, http: http), intents: PaymentIntentStore(database: database), breaker: breaker,
            outcomesQueue: configuration.topology.paymentOutcomes.main)
        let worker = QueueWorker(
            configuration: QueueWorkerConfiguration(
                amqp: amqp, queues: configuration.topology.payments, settings: configuration.consume, workerName: "payment-worker"),
            handler: handler, logger: logger)
        // ServiceGroup stops services in reverse order: the worker finishes before the pool and the HTTP client close.
        services = [database, HTTPClientShutdown(client: http), worker]
    }
}

/// Shuts its HTTP client down when the daemon stops (after the services that use it).
struct HTTPClientShutdown: Service {
    let client: HTTPClient

    func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }
}
