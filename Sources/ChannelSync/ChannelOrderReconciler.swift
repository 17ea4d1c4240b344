import Foundation
import Logging
import Messaging
import OrderCore
import OrderStore
import Postgres
import ServiceSupport
import Shopify
import TextCodecs
import W3CTraceContext

/// Finds the channel's orders whose webhook never came: lists the orders
/// created within the lookback and enqueues each that has no order row,
/// exactly as the webhook would have (the same derived id, idempotency key,
/// message and properties), so an order whose message is merely still queued
/// is one order all the same: the worker takes the second message as a
/// duplicate. A listed order the shop cancelled is cancelled here too.
public struct ChannelOrderReconciler: Sendable {
    /// What one pass did.
    public struct Report: Sendable, Hashable {
        public var listed = 0
        public var enqueued = 0
        public var cancelled = 0
        /// Listed orders no order can be made of (logged with their reason).
        public var malformed = 0

        public init(listed: Int = 0, enqueued: Int = 0, cancelled: Int = 0, malformed: Int = 0) {
            self.listed = listed
            self.enqueued = enqueued
            self.cancelled = cancelled
            self.malformed = malformed
        }
    }

    let shop: String
    let channel: String
    let orderIDs: OrderID
    let client: ShopifyAdminClient
    let breaker: CircuitBreaker
    let database: PostgresPool
    let publisher: ReconnectingPublisher
    let ordersQueue: String
    let routing: OutboxRouting
    let publishTimeout: Duration
    let logger: Logger

    public init(
        shop: String, channel: String, orderIDs: OrderID, client: ShopifyAdminClient, breaker: CircuitBreaker, database: PostgresPool,
        publisher: ReconnectingPublisher, ordersQueue: String, routing: OutboxRouting, publishTimeout: Duration, logger: Logger
    ) {
        self.shop = shop
        self.channel = channel
        self.orderIDs = orderIDs
        self.client = client
        self.breaker = breaker
        self.database = database
        self.publisher = publisher
        self.ordersQueue = ordersQueue
        self.routing = routing
        self.publishTimeout = publishTimeout
        self.logger = logger
    }

    /// One pass over the orders created since `now - lookback`.
    public func reconcile(lookback: Duration, now: Date = Date()) async throws -> Report {
        var report = Report()
        guard breaker.admit() != .refused else {
            logger.warning("order reconciliation skipped: the channel's circuit breaker is open", metadata: [LogKey.breaker: "\(breaker.dependency.rawValue)"])
            return report
        }
        let listed: [Result<ShopifyOrder, ShopifyOrder.Malformed>]
        do {
            listed = try await client.orders(createdAtMin: now.addingTimeInterval(-Double(lookback.components.seconds)))
            breaker.recordSuccess()
        } catch {
            if error.isTransient { breaker.recordFailure() } else { breaker.recordSuccess() }
            throw error
        }
        report.listed = listed.count
        var orders: [ShopifyOrder] = []
        for entry in listed {
            switch entry {
            case .success(let order): orders.append(order)
            case .failure(let malformed):
                report.malformed += 1
                logger.error("a listed channel order is unusable; not enqueued", metadata: [LogKey.reason: "\(malformed)"])
            }
        }
        let ids = orders.map { $0.orderId(shop: shop, ids: orderIDs) }
        let channelOrderIds = orders.map(\.id)
        let (statuses, known) = try await database.withConnection {
            (try ChannelStock.orderStatuses(ids, on: $0), try ChannelStock.knownChannelOrders(channelOrderIds, channel: ShopifyOrder.channel, on: $0))
        }
        // An order recorded under its Shopify id is never enqueued again, even one whose
        // id was derived from another spelling of the shop (a misconfigured SHOPIFY_SHOP_DOMAIN).
        let missing = orders.filter { $0.cancelledAt == nil && statuses[$0.orderId(shop: shop, ids: orderIDs)] == nil && !known.contains($0.id) }
        let (channel, skus) = (channel, Array(Set(missing.flatMap { $0.lineItems.compactMap(\.sku) })).sorted())
        var products: [String: String] = [:]
        if !skus.isEmpty {
            products = try await database.withConnection { try SKUMappings.products(forSKUs: skus, channel: channel, on: $0) }
        }
        for order in missing {
            let placed: OrderPlaced
            do {
                placed = try order.orderPlaced(shop: shop, ids: orderIDs, products: products, acceptedAt: Date())
            } catch {
                report.malformed += 1
                logger.error(
                    "a channel order whose webhook never came is unusable; not enqueued",
                    metadata: ["channel_order_id": "\(order.id)", LogKey.reason: "\(error)"])
                continue
            }
            // The order's trace starts here, as a webhook's would have.
            let trace = TraceContext.newTrace()
            var properties = placed.amqpProperties(appID: "channel-sync")
            properties.propagate(trace)
            try await publisher.publish(placed.encoded(), routingKey: ordersQueue, properties: properties, timeout: publishTimeout)
            report.enqueued += 1
            logger.warning(
                "channel order enqueued by reconciliation: its webhook never came",
                metadata: ([LogKey.orderId: "\(UUIDText.string(placed.orderId))", "channel_order_id": "\(order.id)", "channel_order_name": "\(order.name ?? "")"]
                    as Logger.Metadata).merging(trace.logMetadata) { $1 })
        }
        for (order, id) in zip(orders, ids) where order.cancelledAt != nil {
            guard let status = statuses[id], status != OrderState.cancelled.rawValue else { continue }
            let (routing, reason) = (routing, order.cancellationReason)
            do {
                let details = try await database.withConnection {
                    try OrderCommands.cancel(id, reason: reason, actor: .system, queuedIfAbsent: false, routing: routing, on: $0)
                }
                if details.status == .cancelled { report.cancelled += 1 }
                logger.info("channel order cancelled by reconciliation", metadata: [LogKey.orderId: "\(UUIDText.string(id))", LogKey.status: "\(details.status.rawValue)"])
            } catch let refusal as CommandRefusal {
                logger.warning(
                    "a channel order the shop cancelled cannot be cancelled here",
                    metadata: [LogKey.orderId: "\(UUIDText.string(id))", LogKey.reason: "\(refusal)"])
            }
        }
        logger.info(
            "channel orders reconciled",
            metadata: ["listed": "\(report.listed)", "enqueued": "\(report.enqueued)", "cancelled": "\(report.cancelled)", "malformed": "\(report.malformed)"])
        return report
    }
}
