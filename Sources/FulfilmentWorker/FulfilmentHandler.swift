import AMQP
import Foundation
import Instrumentation
import Logging
import Messaging
import OrderCore
import OrderStore
import Postgres
import ServiceSupport
import Shopify
import TextCodecs

/// Sends each confirmed order (its `order.confirmed` event) to the warehouse
/// and records that the warehouse took it (CONFIRMED → FULFILLING).
///
/// An order that is no longer CONFIRMED when its event arrives (cancelled,
/// or further already, or the event re-published with a later transition) is
/// not sent. A window's orders are sent concurrently, each order once even
/// when the window holds its event twice.
///
/// Outcomes: a 2xx is done; a 4xx about the order (400, 422, …) is the
/// warehouse refusing it, which no retry changes: dead-lettered at once with
/// its answer and the order flagged for review; a 5xx, a 4xx that is not about
/// the order (401, 403, 404, 408, 409, 425, 429: `WarehouseClient`), a
/// timeout or a refused connection is transient (the retry tiers, then the DLQ); a breaker that is open makes
/// no call and postpones without spending a retry. Every order is read from
/// the database first, so a database that is away holds the whole window
/// (``DependencyUnavailable``); an order the warehouse already took is sent
/// again once it is back, which its Idempotency-Key makes harmless.
public struct FulfilmentHandler: DeliveryHandler {
    public let warehouse: WarehouseClient
    public let database: PostgresPool
    public let breaker: CircuitBreaker
    public let routing: OutboxRouting

    /// The channel whose SKUs the warehouse knows the products by.
    public static let skuChannel = ShopifyOrder.channel

    public init(warehouse: WarehouseClient, database: PostgresPool, breaker: CircuitBreaker, routing: OutboxRouting) {
        self.warehouse = warehouse
        self.database = database
        self.breaker = breaker
        self.routing = routing
    }

    public func handleBatch(_ deliveries: [AMQPDelivery], logger: Logger) async throws -> HandledWindow {
        var outcomes = [DeliveryOutcome](repeating: .done, count: deliveries.count)
        var firstOfOrder: [UUID: Int] = [:]
        for (index, delivery) in deliveries.enumerated() {
            do throws(PoisonMessage) {
                let event = try OrderEventMessage.header(delivery.body)
                // Another delivery of the same order in this window is acked: the first one's
                // outcome (done, retried or dead-lettered) carries the order for both.
                guard event.to == .confirmed, firstOfOrder[event.orderId] == nil else { continue }
                firstOfOrder[event.orderId] = index
            } catch {
                outcomes[index] = .deadLetter(reason: error.reason.rawValue, message: error.detail)
            }
        }
        try await withThrowingTaskGroup(of: (Int, DeliveryOutcome).self) { group in
            for (orderId, index) in firstOfOrder {
                let trace = deliveries[index].trace
                group.addTask { (index, try await ServiceContext.withValue(.tracing(trace)) { try await fulfil(orderId, logger: logger) }) }
            }
            for try await (index, outcome) in group { outcomes[index] = outcome }
        }
        return HandledWindow(outcomes: outcomes)
    }

    /// One order, from its state to the warehouse's answer. Throws
    /// ``DependencyUnavailable`` when the database is away.
    public func fulfil(_ orderId: UUID, logger: Logger) async throws(DependencyUnavailable) -> DeliveryOutcome {
        var logger = logger
        logger[metadataKey: LogKey.orderId] = .string(UUIDText.string(orderId))
        let request: FulfilmentRequest
        do {
            guard let order = try await database.withConnection({ try Fulfilment.order(orderId, on: $0) }) else {
                return .deadLetter(reason: "order-not-found", message: "no order \(UUIDText.string(orderId)) in the database")
            }
            guard order.state == .confirmed else {
                logger.info("not sent to the warehouse: the order is no longer CONFIRMED", metadata: [LogKey.status: "\(order.state.rawValue)"])
                return .done
            }
            let productIds = order.lines.map(\.productId)
            let skus = try await database.withConnection {
                try SKUMappings.skus(forProducts: productIds, channel: Self.skuChannel, on: $0)
            }
            request = FulfilmentRequest(
                orderId: orderId, lineItems: order.lines.map { .init(sku: skus[$0.productId] ?? $0.productId, quantity: $0.quantity) })
        } catch {
            return try Self.databaseFailure(error)
        }

        guard breaker.admit() != .refused else {
            return .postpone(reason: "breaker-open", message: "the warehouse's circuit breaker is open")
        }
        let start = ContinuousClock.now
        do throws(WarehouseError) {
            let status = try await warehouse.send(request)
            breaker.recordSuccess()
            logger.info(
                "sent to the warehouse",
                metadata: [LogKey.status: "\(status)", LogKey.durationMilliseconds: "\((ContinuousClock.now - start).milliseconds)"])
        } catch .refused(let status, let answer) {
            // The warehouse answered: it is up, and refuses this order.
            breaker.recordSuccess()
            let reason = WarehouseError.refused(status: status, answer: answer).description
            logger.error("the warehouse refused the order", metadata: [LogKey.status: "\(status)", LogKey.reason: "\(answer)"])
            do {
                try await database.withConnection { try Fulfilment.refused(orderId, reason: reason, on: $0) }
            } catch {
                return try Self.databaseFailure(error)
            }
            return .deadLetter(reason: "wms-refused", message: reason)
        } catch {
            breaker.recordFailure()
            logger.warning(
                "the warehouse did not take the order",
                metadata: [LogKey.error: "\(error)", LogKey.durationMilliseconds: "\((ContinuousClock.now - start).milliseconds)"])
            let reason = if case .serverError = error { "wms-server-error" } else { "wms-unavailable" }
            return .retry(reason: reason, message: "\(error)")
        }

        do {
            let before = try await database.withConnection { try Fulfilment.started(orderId, routing: routing, on: $0) }
            if before != .confirmed {
                logger.info("the warehouse took an order that had moved on; its state stays", metadata: [LogKey.status: "\(before?.rawValue ?? "unknown")"])
            }
            return .done
        } catch {
            // Sent again (after the retry delay, or once the database is back): the Idempotency-Key makes the warehouse answer without shipping twice.
            return try Self.databaseFailure(error)
        }
    }

    /// A database that is away holds the window; any other database error retries the order.
    private static func databaseFailure(_ error: any Error) throws(DependencyUnavailable) -> DeliveryOutcome {
        if let error = error as? PostgresError, error.isUnavailable { throw .ordersDatabase(error.reason) }
        return .retry(reason: "database-error", message: "\(error)")
    }
}
