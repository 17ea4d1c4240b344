import AMQP
import HTTPSupport
import Hummingbird
import Logging
import Messaging
import NIOCore
import OrderStore
import Postgres
import ServiceLifecycle
import Shopify
import ServiceSupport
import StripeAPI

/// Builds order-api from its configuration (the executable and the tests use the same).
public func buildOrderAPI(configuration: OrderAPIConfiguration, logger: Logger) throws -> some ApplicationProtocol {
    ProcessMetrics.bootstrap()
    let publisher = ReconnectingPublisher(
        configuration: try AMQPConfiguration(url: configuration.amqpURL, connectionName: "order-api"), logger: logger)
    let database = PostgresPool(configuration: try PostgresConfiguration(url: configuration.databaseURL), size: configuration.databasePoolSize, logger: logger)
    // The product listings' own pool only when they are given a database of their own (a standby).
    let reads =
        try configuration.readDatabaseURL == configuration.databaseURL
        ? database
        : PostgresPool(configuration: PostgresConfiguration(url: configuration.readDatabaseURL), size: configuration.databasePoolSize, logger: logger)

    let prices = PriceCatalogue(database: database, logger: logger)

    let router = HTTPRouter(context: BasicRequestContext.self)
    // Outermost: the problem middleware's lines, and error answers, belong to the request's trace.
    router.add(middleware: TraceContextMiddleware())
    router.add(middleware: ProblemMiddleware())
    let authorization = CommandAuthorization(token: configuration.apiToken)
    let routing = OutboxRouting(
        orderEvents: configuration.topology.orderEvents, vendorSyncQueue: configuration.topology.vendorSync.main,
        paymentsQueue: configuration.topology.payments.main,
        stockLevels: configuration.stockLevels)
    OrdersController(
        publisher: publisher, database: database, idempotencyKeys: IdempotencyKeys(database: database), orderIDs: configuration.orderIDs,
        authorization: authorization, routing: routing, queue: configuration.topology.orders.main, maxBodyBytes: configuration.maxBodyBytes,
        publishTimeout: configuration.publishTimeout, paymentsRequired: configuration.paymentsRequired, prices: prices
    ).addRoutes(to: router)
    InventoryController(
        database: database, authorization: authorization, routing: routing, maxBodyBytes: configuration.maxBodyBytes,
        defaultHoldSeconds: configuration.defaultHoldSeconds
    ).addRoutes(to: router)
    ProductsController(database: reads).addRoutes(to: router)
    let webhookPublisher = TransactionalPublisher(publisher: publisher, timeout: configuration.publishTimeout)
    StripeWebhookController(
        signature: configuration.stripeWebhookSecret.map { StripeSignature(secret: $0) }, database: database, publisher: webhookPublisher,
        queue: configuration.topology.paymentOutcomes.main, maxBodyBytes: configuration.maxBodyBytes
    ).addRoutes(to: router)
    ShopifyWebhookController(
        signature: configuration.shopifyWebhookSecret.map { ShopifyWebhookSignature(secret: $0) }, database: database,
        publisher: webhookPublisher, orderIDs: configuration.orderIDs, routing: routing, queues: configuration.topology.orders,
        maxBodyBytes: max(configuration.maxBodyBytes, ShopifyWebhookController<BasicRequestContext>.minimumBodyBytes)
    ).addRoutes(to: router)
    WarehouseCallbackController(
        token: configuration.wmsCallbackToken, database: database, routing: routing, maxBodyBytes: configuration.maxBodyBytes
    ).addRoutes(to: router)
    HealthController(publisher: publisher, database: database).addRoutes(to: router)
    MetricsController().addRoutes(to: router)
    let document = OrderAPIRoutes.openAPIDocument
    router.get("/openapi.yaml") { _, _ in
        Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(string: document)))
    }

    // Stopped in reverse order after the server: the catalogue, the publisher, then the pools.
    let services: [any Service] = reads === database ? [database, publisher, prices] : [database, reads, publisher, prices]
    return Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "order-api"),
        services: services,
        logger: logger)
}
