import AMQP
import Logging
import Messaging
import OrderCore
import Postgres
import ServiceLifecycle
import ServiceSupport
import TextCodecs
import Topology

/// Everything vendor-sync-worker runs (the executable and the tests use the same).
public struct VendorSyncApp {
    public let services: [any Service]

    public init(configuration: VendorSyncConfiguration, logger: Logger) throws {
        let orders = PostgresPool(configuration: try PostgresConfiguration(url: configuration.databaseURL), size: configuration.consume.loops, logger: logger)
        var vendors: [String: PostgresPool] = [:]
        for vendor in configuration.vendorDatabaseURLs {
            vendors[vendor.name] = PostgresPool(configuration: try PostgresConfiguration(url: vendor.url), size: configuration.consume.loops, logger: logger)
        }
        let worker = QueueWorker(
            configuration: QueueWorkerConfiguration(
                amqp: try AMQPConfiguration(url: configuration.amqpURL, connectionName: "vendor-sync-worker"),
                queues: configuration.topology.vendorSync, settings: configuration.consume, workerName: "vendor-sync-worker"),
            handler: VendorSyncHandler(orders: orders, vendors: vendors),
            logger: logger)
        // Stopped in reverse order: the worker finishes before the pools close.
        services = [orders] + vendors.keys.sorted().map { vendors[$0]! } + [worker]
    }
}
