import AMQP
import Logging
import Messaging
import OrderStore
import Postgres
import ServiceLifecycle
import ServiceSupport
import Shopify

/// Everything channel-sync runs, built from its configuration: tests run the same thing in-process.
public struct ChannelSyncApp {
    public let services: [any Service]
    public let pusher: ChannelStockPusher
    public let orders: ChannelOrderReconciler
    public var breaker: CircuitBreaker { pusher.breaker }

    /// `periodic: false` leaves the passes to the caller (tests call ``pusher`` and ``orders`` themselves).
    public init(configuration: ChannelSyncConfiguration, logger: Logger, periodic: Bool = true) throws {
        ProcessMetrics.bootstrap()
        let postgres = try PostgresConfiguration(url: configuration.databaseURL)
        let amqp = try AMQPConfiguration(url: configuration.amqpURL, connectionName: "channel-sync")
        let database = PostgresPool(configuration: postgres, size: 2, logger: logger)
        let publisher = ReconnectingPublisher(configuration: amqp, logger: logger)
        // One breaker for the channel: a pass of pushes and a reconciliation see the same API.
        let breaker = CircuitBreaker(dependency: .shopify, policy: configuration.breaker, logger: logger)
        let client = ShopifyAdminClient(configuration: configuration.shopify)
        pusher = ChannelStockPusher(
            channel: configuration.channel, locationId: configuration.locationId, client: client, breaker: breaker, database: database,
            concurrency: configuration.pushConcurrency, logger: logger)
        let topology = configuration.topology
        orders = ChannelOrderReconciler(
            shop: configuration.shop, channel: configuration.channel, orderIDs: configuration.orderIDs, client: client, breaker: breaker,
            database: database, publisher: publisher, ordersQueue: topology.orders.main,
            routing: OutboxRouting(
                orderEvents: topology.orderEvents, vendorSyncQueue: topology.vendorSync.main, paymentsQueue: topology.payments.main,
                stockLevels: configuration.stockLevels),
            publishTimeout: configuration.publishTimeout, logger: logger)
        // ServiceGroup stops services in reverse order: the loop ends before the publisher and the pool close.
        var services: [any Service] = [database, publisher]
        if periodic {
            services.append(ChannelSyncLoop(
                pusher: pusher, orders: orders, pushInterval: configuration.pushInterval, reconcileInterval: configuration.reconcileInterval,
                reconcileLookback: configuration.reconcileLookback, logger: logger))
        }
        self.services = services
    }
}
