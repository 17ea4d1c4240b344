import AMQP
import Foundation
import Instrumentation
import Logging
import Messaging
import Metrics
import OrderCore
import OrderStore
import Postgres
import ServiceSupport
import TextCodecs
import Topology
import W3CTraceContext

/// Applies a window of order messages: decode (poison → DLQ), one PostgreSQL
/// transaction, and one `vendor_sync` message per vendor for its allocations, the
/// `order_events` of the window's transitions and the authorize commands of
/// the orders held for a payment, for the `QueueWorker` to publish. It acks only after those are confirmed, so a crash at any point
/// redelivers the messages, the order id keeps each from applying twice, and
/// the redelivery publishes what the crash held back. Counts each applied
/// order by the status it left (`orders_applied_total{outcome}`, `duplicate`
/// for one applied before).
public struct OrderMessageHandler: DeliveryHandler {
    public let database: PostgresPool
    public let topology: Topology
    public let settings: OrderApplier.Settings
    private let applied: [OrderState: Counter]
    private let duplicates: Counter

    public init(database: PostgresPool, topology: Topology, settings: OrderApplier.Settings) {
        self.database = database
        self.topology = topology
        self.settings = settings
        applied = Dictionary(uniqueKeysWithValues: OrderState.allCases.map { state in
            (state, Counter(label: "orders_applied_total", dimensions: [("outcome", state.rawValue.lowercased())]))
        })
        duplicates = Counter(label: "orders_applied_total", dimensions: [("outcome", "duplicate")])
    }

    /// A window of orders in one transaction (`OrderApplier`), one by one if
    /// that fails (`WindowFallback`). Returns the window's vendor_sync
    /// messages and events, which the worker confirms before it acks.
    /// Throws ``DependencyUnavailable`` when the database is away: every
    /// order needs it, and none may spend a retry or overtake another.
    public func handleBatch(_ deliveries: [AMQPDelivery], logger: Logger) async throws -> HandledWindow {
        let started = ContinuousClock.now
        let settings = settings
        var outcomes = [DeliveryOutcome](repeating: .done, count: deliveries.count)
        var valid: [(index: Int, order: OrderPlaced)] = []
        for (index, delivery) in deliveries.enumerated() {
            do {
                valid.append((index, try OrderPlaced.decode(delivery.body)))
            } catch {
                outcomes[index] = .deadLetter(reason: error.reason.rawValue, message: error.detail)
            }
        }
        // Each order's trace (one per delivery, as the worker extracted it): its lines and the messages it implies carry it.
        var traces: [UUID: TraceContext] = [:]
        for (index, order) in valid { traces[order.orderId] = deliveries[index].trace }
        var applied: [OrderApplication] = []
        if !valid.isEmpty {
            let results = await WindowFallback.apply(
                valid.map(\.order), on: database, logger: logger,
                window: { try OrderApplier.apply($0, settings: settings, on: $1) },
                single: { try OrderApplier.apply($0, settings: settings, on: $1) })
            for case .failure(let error as PostgresError) in results where error.isUnavailable {
                throw DependencyUnavailable.ordersDatabase(error.reason)
            }
            for ((index, _), result) in zip(valid, results) {
                switch result {
                case .success(let application): applied.append(application)
                case .failure(let error as PostgresError): outcomes[index] = .retry(reason: Self.reason(for: error), message: error.description)
                case .failure(let error): outcomes[index] = .retry(reason: "unexpected-error", message: "\(error)")
                }
            }
        }
        log(applied, traces: traces, outcomes: outcomes, since: started, logger: logger)
        return HandledWindow(outcomes: outcomes, messages: messages(applied, traces: traces))
    }

    /// A line per order at debug level, and one per window at info: at thousands
    /// of orders a second the per-order lines would be most of the worker's output.
    /// Each order is counted here too, in the loop the lines already take.
    private func log(
        _ applied: [OrderApplication], traces: [UUID: TraceContext], outcomes: [DeliveryOutcome], since started: ContinuousClock.Instant, logger: Logger
    ) {
        var confirmed = 0, rejected = 0, duplicates = 0
        for result in applied {
            if result.duplicate { duplicates += 1 } else if result.status == .confirmed { confirmed += 1 } else if result.status == .rejected { rejected += 1 }
            if result.duplicate { self.duplicates.increment() } else { self.applied[result.status]?.increment() }
            logger.debug(
                "order applied",
                metadata: ([
                    LogKey.orderId: .string(UUIDText.string(result.orderId)), LogKey.status: "\(result.status.rawValue)",
                    LogKey.duplicate: "\(result.duplicate)", LogKey.allocations: "\(result.allocations.count)",
                    LogKey.reason: "\(result.reason ?? "")", LogKey.batch: "\(outcomes.count)",
                ] as Logger.Metadata).merging(traces[result.orderId]?.logMetadata ?? [:]) { $1 })
        }
        var retried = 0, deadLettered = 0
        for outcome in outcomes {
            switch outcome {
            case .done: break
            case .retry, .postpone, .split: retried += 1
            case .deadLetter: deadLettered += 1
            }
        }
        logger.info(
            "window applied",
            metadata: [
                LogKey.batch: "\(outcomes.count)", LogKey.confirmed: "\(confirmed)", LogKey.rejected: "\(rejected)",
                LogKey.duplicates: "\(duplicates)", LogKey.retried: "\(retried)", LogKey.deadLettered: "\(deadLettered)",
                LogKey.durationMilliseconds: "\((ContinuousClock.now - started).milliseconds)",
            ])
    }

    /// Each order's events and the authorize command of an order held for its
    /// payment, then one vendor_sync message per vendor for the window's
    /// allocations (``VendorMovementBatch``). A duplicate re-publishes the same
    /// event and allocation ids and the same command (its idempotency key):
    /// subscribers dedup by event id, vendor-sync applies each movement once,
    /// the gateway authorizes each order once. Each carries its order's trace
    /// on; a vendor_sync message of many orders carries its first order's, and
    /// each other order's movements name theirs in their entries.
    private func messages(_ results: [OrderApplication], traces: [UUID: TraceContext]) -> [AMQPOutgoingMessage] {
        let (vendorSync, payments) = (topology.vendorSync.main, topology.payments.main)
        let now = Date()
        var messages: [AMQPOutgoingMessage] = []
        var allocations: [VendorMovementBatch.Entry] = []
        for result in results {
            let outbound: [OutboundMessage] = result.events + (result.payment.map { [$0.outboundMessage(queue: payments)] } ?? [])
            for message in outbound {
                var message = AMQPOutgoingMessage(message, timestamp: now)
                message.properties.propagate(traces[result.orderId])
                messages.append(message)
            }
            for allocation in result.allocations { allocations.append(VendorMovementBatch.Entry(allocation)) }
        }
        var traceparents: [UUID: String] = [:]
        for var batch in VendorMovementBatch.grouped(allocations) {
            let first = batch.entries[0].movement.orderId
            if batch.spansOrders {
                for index in batch.entries.indices {
                    let orderId = batch.entries[index].movement.orderId
                    guard orderId != first, let trace = traces[orderId] else { continue }
                    if traceparents[orderId] == nil { traceparents[orderId] = trace.traceparent }
                    batch.entries[index].traceparent = traceparents[orderId]
                }
            }
            var message = AMQPOutgoingMessage(batch.outboundMessage(queue: vendorSync), timestamp: now)
            message.properties.propagate(traces[first])
            messages.append(message)
        }
        return messages
    }

    /// Records the order as FAILED before its message goes to the DLQ; waits
    /// (``DependencyUnavailable``) while the database is away, so no FAILED
    /// mark is ever skipped. Idempotent: an order already recorded keeps its state.
    public func retriesExhausted(_ delivery: AMQPDelivery, reason: String, logger: Logger) async throws {
        guard let order = try? OrderPlaced.decode(delivery.body) else { return }
        do {
            // Under the order's trace: the FAILED event the outbox sends carries it.
            try await ServiceContext.withValue(.tracing(delivery.trace)) {
                try await database.withConnection { connection in
                    try OrderApplier.markFailed(order, reason: "processing failed after retries: \(reason)", settings: settings, on: connection)
                }
            }
        } catch let error as PostgresError where error.isUnavailable {
            throw DependencyUnavailable.ordersDatabase(error.reason)
        } catch {
            logger.error("could not record the order as FAILED", metadata: [LogKey.error: "\(error)"])
        }
    }

    /// A stable reason code for the DLQ headers.
    static func reason(for error: PostgresError) -> String {
        switch error.code {
        case .deadlockDetected?: "deadlock"
        case .serializationFailure?: "serialization-failure"
        case .lockNotAvailable?: "lock-timeout"
        case .queryCanceled?: "statement-timeout"
        case .tooManyConnections?: "too-many-connections"
        default: error.kind == .connection || error.code?.errorClass == "08" || error.code?.errorClass == "57" ? "database-unavailable" : "database-error"
        }
    }
}
