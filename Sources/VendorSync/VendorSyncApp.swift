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

/// Everything vendor-sync-worker runs (the executable and the tests use the same).
public struct VendorSyncApp {
    public let services: [any Service]

    public init(configuration: VendorSyncConfiguration, logger: Logger) throws {
        ProcessMetrics.bootstrap()
        // Every URL is parsed before any pool starts its threads, so a bad one leaves none behind.
        let ordersDatabase = try PostgresConfiguration(url: configuration.databaseURL)
        let vendorDatabases = try configuration.vendorDatabaseURLs.map { (name: $0.name, configuration: try PostgresConfiguration(url: $0.url)) }
        let amqp = try AMQPConfiguration(url: configuration.amqpURL, connectionName: "vendor-sync-worker")
        let orders = PostgresPool(configuration: ordersDatabase, size: configuration.consume.loops, logger: logger)
        var vendors: [String: PostgresPool] = [:]
        for vendor in vendorDatabases {
            vendors[vendor.name] = PostgresPool(configuration: vendor.configuration, size: configuration.consume.loops, logger: logger)
        }
        let worker = QueueWorker(
            configuration: QueueWorkerConfiguration(
                amqp: amqp, queues: configuration.topology.vendorSync, settings: configuration.consume, workerName: "vendor-sync-worker"),
            handler: VendorSyncHandler(
                orders: orders, vendors: vendors,
                routing: OutboxRouting(
                    orderEvents: configuration.topology.orderEvents, vendorSyncQueue: configuration.topology.vendorSync.main,
                    paymentsQueue: configuration.topology.payments.main,
                    stockLevels: configuration.stockLevels),
                breakers: VendorBreakers(vendors: vendors.keys, policy: configuration.vendorBreaker, logger: logger)),
            logger: logger)
        // Stopped in reverse order: the worker finishes before the pools close.
        services = [orders] + vendors.keys.sorted().map { vendors[$0]! } + [worker]
    }
}
