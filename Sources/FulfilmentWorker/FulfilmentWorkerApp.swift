import AMQP
import HTTPSupport
import Hummingbird
import Logging
import Messaging
import OrderStore
import Postgres
import ServiceLifecycle
import ServiceSupport

/// Everything fulfilment-worker runs, built from its configuration: the
/// queue worker, its database pool and HTTP client, and the health and
/// metrics endpoints.
public struct FulfilmentWorkerApp {
    public let application: any ApplicationProtocol
    public let breaker: CircuitBreaker
    public let handler: FulfilmentHandler

    /// `status` keeps a test's worker's readiness apart; production passes none.
    public init(configuration: FulfilmentWorkerConfiguration, logger: Logger, status: DependencyStatus = .process) throws {
        ProcessMetrics.bootstrap()
        let postgres = try PostgresConfiguration(url: configuration.databaseURL)
        let amqp = try AMQPConfiguration(url: configuration.amqpURL, connectionName: "fulfilment-worker")
        // Two short statements per order, outside the warehouse call: a few connections serve the window.
        let database = PostgresPool(configuration: postgres, size: min(configuration.concurrency, 4), logger: logger)
        breaker = CircuitBreaker(dependency: .wms, policy: configuration.breaker, logger: logger)
        let http = OutboundHTTPClient(concurrency: configuration.concurrency)
        let topology = configuration.topology
        handler = FulfilmentHandler(
            warehouse: WarehouseClient(configuration: configuration.warehouse, http: http.client), database: database, breaker: breaker,
            routing: OutboxRouting(
                orderEvents: topology.orderEvents, vendorSyncQueue: topology.vendorSync.main, paymentsQueue: topology.payments.main,
                stockLevels: configuration.stockLevels))
        let worker = QueueWorker(
            configuration: QueueWorkerConfiguration(
                amqp: amqp, queues: topology.fulfilment, settings: configuration.consume, workerName: "fulfilment-worker",
                status: status),
            handler: handler, logger: logger)
        let router = HTTPRouter(context: BasicRequestContext.self)
        router.add(middleware: ProblemMiddleware())
        FulfilmentHealthController(breaker: breaker, status: status).addRoutes(to: router)
        MetricsController().addRoutes(to: router)
        // Services stop in reverse order: the worker finishes before the HTTP client and the pool close.
        application = Application(
            router: router,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "fulfilment-worker"),
            services: [database, http, worker],
            logger: logger)
    }
}
