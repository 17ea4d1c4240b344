import AMQP
import Foundation
import Instrumentation
import Logging
import Messaging
import OrderCore
import OrderStore
import Postgres
import ServiceSupport
import TextCodecs

/// Applies the `payment_outcomes` queue's messages (what the gateway
/// answered, from payment-worker or a verified webhook) to their orders: each
/// one transaction (`PaymentOutcomes.apply`), in delivery order, so two
/// outcomes of one order in a window apply in the order they came. What a
/// transition implies (events, vendor movements, the next payment command)
/// goes through the outbox in that transaction, so the window publishes
/// nothing itself. A body that is no outcome is dead-lettered; an outcome for
/// an order nobody knows is acked with a warning (nothing will ever apply it).
/// A database that is away holds the window (``DependencyUnavailable``): the
/// outcomes applied before it are applied again as duplicates, which the
/// payment's state makes no-ops.
public struct PaymentOutcomeHandler: DeliveryHandler {
    public let database: PostgresPool
    public let routing: OutboxRouting

    public init(database: PostgresPool, routing: OutboxRouting) {
        self.database = database
        self.routing = routing
    }

    /// A window of outcomes is a handful of messages at a time (one per
    /// gateway call): small windows, each outcome its own short transaction.
    public static func consumeSettings(_ orders: ConsumeSettings) -> ConsumeSettings {
        var settings = orders
        settings.prefetch = min(orders.prefetch, 100)
        settings.batchSize = min(orders.batchSize, 20)
        return settings
    }

    public func handleBatch(_ deliveries: [AMQPDelivery], logger: Logger) async throws -> HandledWindow {
        var outcomes: [DeliveryOutcome] = []
        for delivery in deliveries {
            let outcome: PaymentOutcome
            do {
                outcome = try PaymentOutcome.decode(delivery.body)
            } catch {
                outcomes.append(.deadLetter(reason: error.reason.rawValue, message: error.detail))
                continue
            }
            do {
                let routing = routing
                // Under the outcome's trace: its lines, and the outbox rows of what it implies.
                try await ServiceContext.withValue(.tracing(delivery.trace)) {
                    let applied = try await database.withConnection { try PaymentOutcomes.apply(outcome, routing: routing, on: $0) }
                    log(applied, of: outcome, logger: logger)
                }
                outcomes.append(.done)
            } catch let error as PostgresError where error.isUnavailable {
                // Every outcome of the window needs the database: hold them all, in order.
                throw DependencyUnavailable.ordersDatabase(error.reason)
            } catch let error as PostgresError {
                outcomes.append(.retry(reason: OrderMessageHandler.reason(for: error), message: error.description))
            } catch {
                outcomes.append(.retry(reason: "unexpected-error", message: "\(error)"))
            }
        }
        return HandledWindow(outcomes: outcomes)
    }

    private func log(_ applied: PaymentOutcomes.Applied, of outcome: PaymentOutcome, logger: Logger) {
        var metadata: Logger.Metadata = [
            LogKey.orderId: .string(UUIDText.string(outcome.orderId)), LogKey.result: "\(outcome.kind.rawValue)", "step": "\(outcome.step)",
        ]
        switch applied {
        case .transition(let recorded):
            metadata[LogKey.status] = "\(recorded.to.rawValue)"
            logger.debug("payment outcome applied", metadata: metadata)
        case .paymentOnly:
            logger.debug("payment outcome recorded", metadata: metadata)
        case .gatewayRefused(let reason):
            metadata[LogKey.reason] = "\(reason)"
            logger.warning("the gateway refused a void or refund; an operator must look", metadata: metadata)
        case .refused(let refusal):
            metadata[LogKey.reason] = "\(refusal)"
            logger.warning("payment outcome does not apply to the order's state; acked", metadata: metadata)
        case .unknownOrder:
            logger.warning("payment outcome for an order without a payment; acked", metadata: metadata)
        }
    }
}
