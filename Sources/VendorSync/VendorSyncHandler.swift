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
import W3CTraceContext

/// Applies stock movements (allocations and restocks) at their vendors,
/// exactly once (the vendor database records the movement id in the same
/// transaction as the stock change), then records the results in ordersdb. A
/// movement the vendor refuses is a business answer, never retried: an
/// allocation moves to another vendor that has the units, or, when none has,
/// flags the order for review, as a refused restock does
/// (`MovementStore.settleRefusal`).
///
/// A window is applied with one transaction per vendor (`VendorStore.apply`)
/// and one ordersdb statement; if a vendor's window fails, its movements are
/// applied one by one (`WindowFallback`), so one bad message or one
/// unreachable vendor only affects itself. The movements a vendor took (once
/// ordersdb has recorded them) are counted by vendor: `vendor_movements_applied_total`.
public struct VendorSyncHandler: DeliveryHandler {
    public let orders: PostgresPool
    public let vendors: [String: PostgresPool]
    public let routing: OutboxRouting
    private let applied: [String: Counter]

    public init(orders: PostgresPool, vendors: [String: PostgresPool], routing: OutboxRouting) {
        self.orders = orders
        self.vendors = vendors
        self.routing = routing
        applied = Dictionary(uniqueKeysWithValues: vendors.keys.map { ($0, Counter(label: "vendor_movements_applied_total", dimensions: [("vendor", $0)])) })
    }

    public func handleBatch(_ deliveries: [AMQPDelivery], logger: Logger) async throws -> HandledWindow {
        var outcomes = [DeliveryOutcome](repeating: .done, count: deliveries.count)
        // Each movement's trace (its order's): its lines and what settling it writes to the outbox carry it.
        let traces = deliveries.map(\.trace)
        var byVendor: [String: [(index: Int, movement: VendorMovement)]] = [:]
        for (index, delivery) in deliveries.enumerated() {
            do {
                let movement = try VendorMovement.decode(delivery.body)
                guard vendors[movement.vendorId] != nil else {
                    outcomes[index] = .deadLetter(
                        reason: "unknown-vendor", message: "no database configured for vendor \(movement.vendorId) (VENDOR_DATABASE_URLS)")
                    continue
                }
                byVendor[movement.vendorId, default: []].append((index, movement))
            } catch {
                outcomes[index] = .deadLetter(reason: error.reason.rawValue, message: error.detail)
            }
        }
        // A movement ordersdb has already settled as CONFLICTED (an allocation
        // refused and reallocated, a void restock) is never applied, whatever copy
        // of it comes back: its vendor would give up, or get back, units twice.
        let all = byVendor.values.flatMap { $0.map(\.movement.movementId) }
        do {
            let settled = try await orders.withConnection { try MovementStore.conflicted(all, on: $0) }
            if !settled.isEmpty {
                for (vendorId, items) in byVendor {
                    for (index, movement) in items where settled.contains(movement.movementId) {
                        logger.info(
                            "movement already settled as refused; not applied",
                            metadata: ([
                                LogKey.orderId: .string(UUIDText.string(movement.orderId)),
                                LogKey.movementId: .string(UUIDText.string(movement.movementId)), LogKey.vendor: "\(vendorId)",
                            ] as Logger.Metadata).merging(traces[index].logMetadata) { $1 })
                        outcomes[index] = .done
                    }
                    byVendor[vendorId] = items.filter { !settled.contains($0.movement.movementId) }
                }
            }
        } catch {
            for items in byVendor.values {
                for (index, _) in items { outcomes[index] = .retry(reason: "database-unavailable", message: "\(error)") }
            }
            return HandledWindow(outcomes: outcomes)
        }
        var synced: [(index: Int, movement: VendorMovement, result: VendorApplyResult)] = []
        for (vendorId, items) in byVendor.sorted(by: { $0.key < $1.key }) where !items.isEmpty {
            let results = await WindowFallback.apply(
                items.map(\.movement), on: vendors[vendorId]!, logger: logger, metadata: [LogKey.vendor: "\(vendorId)"],
                window: { try VendorStore.apply($0, on: $1) }, single: { try VendorStore.apply($0, on: $1) })
            for ((index, movement), result) in zip(items, results) {
                switch result {
                case .success(let result): synced.append((index, movement, result))
                case .failure(let error):
                    let unavailable = (error as? PostgresError).map { $0.isTransient || $0.kind == .connection } ?? false
                    outcomes[index] = .retry(reason: unavailable ? "vendor-database-unavailable" : "vendor-database-error", message: "\(error)")
                }
            }
        }
        for (index, outcome) in await record(synced, traces: traces, logger: logger) { outcomes[index] = outcome }
        return HandledWindow(outcomes: outcomes)
    }

    /// A movement whose retries were spent waiting is not left PENDING and
    /// unseen: an allocation that waited for restocks is refused now (moved to
    /// other vendors, or its order flagged; a copy replayed from the DLQ is then
    /// never applied), and a restock that waited for its allocation flags its
    /// order, for an operator to replay it from the DLQ.
    public func retriesExhausted(_ delivery: AMQPDelivery, reason: String, logger: Logger) async {
        guard let movement = try? VendorMovement.decode(delivery.body) else { return }
        let routing = routing
        var logger = logger
        for (key, value) in delivery.trace.logMetadata { logger[metadataKey: key] = value }
        do {
            switch (movement.kind, reason) {
            case (.allocate, "allocation-waits-for-restock"):
                let settled = try await ServiceContext.withValue(.tracing(delivery.trace)) {
                    try await orders.withConnection {
                        try MovementStore.settleRefusal(movement, reason: "vendor \(movement.vendorId) could not cover it after its retries", routing: routing, on: $0)
                    }
                }
                logger.warning("allocation refused after its retries", metadata: [LogKey.reason: "\(settled)"])
            case (.restock, "restock-ahead-of-allocation"):
                try await orders.withConnection { try MovementStore.flagStuck(movement, reason: reason, on: $0) }
            default:
                break
            }
        } catch {
            logger.warning("could not settle a movement whose retries were spent", metadata: [LogKey.error: "\(error)"])
        }
    }

    /// Whether the allocation may still be covered: by the vendor's stock
    /// now (a restock landed since its window read it, from another loop) plus
    /// the PENDING restocks of that product on their way there.
    private func waitsForRestock(_ allocation: VendorMovement) async -> Bool {
        guard let vendor = vendors[allocation.vendorId],
            let coming = try? await orders.withConnection({
                try MovementStore.pendingRestockUnits(for: allocation, on: $0)
            }),
            let stock = try? await vendor.withConnection({ try VendorStore.stock(allocation.productId, on: $0).first?.stock })
        else { return false }
        return (stock ?? 0) + coming >= allocation.quantity
    }

    /// ordersdb's side: APPLIED in one statement, refusals one by one (rare). The vendor
    /// side is done and idempotent, so a failure here only retries this update.
    private func record(
        _ synced: [(index: Int, movement: VendorMovement, result: VendorApplyResult)], traces: [TraceContext], logger: Logger
    ) async -> [(Int, DeliveryOutcome)] {
        var outcomes: [(Int, DeliveryOutcome)] = []
        let applied = synced.filter { $0.result == .applied || $0.result == .alreadyApplied }
        var recordFailed = false
        if !applied.isEmpty {
            do {
                try await orders.withConnection { try MovementStore.markApplied(applied.map(\.movement.movementId), on: $0) }
                for item in applied where item.result == .applied { self.applied[item.movement.vendorId]?.increment() }
            } catch {
                recordFailed = true
                outcomes += applied.map { ($0.index, .retry(reason: "database-unavailable", message: "\(error)")) }
            }
        }
        for (index, movement, result) in synced {
            // Not synced yet: ordersdb did not take it, and the retry comes back here.
            if recordFailed, result == .applied || result == .alreadyApplied { continue }
            var logger = logger
            logger[metadataKey: LogKey.orderId] = .string(UUIDText.string(movement.orderId))
            logger[metadataKey: LogKey.movementId] = .string(UUIDText.string(movement.movementId))
            logger[metadataKey: LogKey.vendor] = "\(movement.vendorId)"
            for (key, value) in traces[index].logMetadata { logger[metadataKey: key] = value }
            if case .notYetAllocated(let reason) = result {
                // Void (its allocation was refused): done. Otherwise its allocation
                // is still on its way: retry after it, and after the last retry the
                // DLQ keeps it for an operator rather than restocking units never taken.
                let void = await (try? orders.withConnection { try MovementStore.conflicted([movement.movementId], on: $0) })?.isEmpty == false
                if void {
                    logger.info("restock skipped: it undoes an allocation the vendor refused", metadata: [LogKey.reason: "\(reason)"])
                } else {
                    outcomes.append((index, .retry(reason: "restock-ahead-of-allocation", message: reason)))
                }
                continue
            }
            if case .conflicted(let reason) = result, movement.kind == .allocate, await waitsForRestock(movement) {
                // The units it takes were given back locally by a restock the vendor
                // has not received yet: not a refusal until that restock has arrived.
                outcomes.append((index, .retry(reason: "allocation-waits-for-restock", message: reason)))
                continue
            }
            if case .conflicted(let reason) = result {
                let routing = routing
                do {
                    let settled = try await ServiceContext.withValue(.tracing(traces[index])) {
                        try await orders.withConnection { try MovementStore.settleRefusal(movement, reason: reason, routing: routing, on: $0) }
                    }
                    switch settled {
                    case .reallocated(let allocations):
                        logger.warning(
                            "movement refused by its vendor; reallocated to other vendors",
                            metadata: [LogKey.reason: "\(reason)", LogKey.allocations: "\(allocations.map { "\($0.vendorId):\($0.quantity)" })"])
                    case .flagged(let flagged):
                        logger.warning("movement refused by its vendor; order flagged for review", metadata: [LogKey.reason: "\(flagged)"])
                    case .restocksVoided(let quantity):
                        logger.warning(
                            "allocation refused by its vendor after the order gave its units back; the restock of them is void",
                            metadata: [LogKey.reason: "\(reason)", LogKey.quantity: "\(quantity)"])
                    case .alreadySettled:
                        break
                    }
                } catch {
                    outcomes.append((index, .retry(reason: "database-unavailable", message: "\(error)")))
                    continue
                }
            }
            logger.info(
                "movement synced",
                metadata: [
                    LogKey.result: "\(result)", "kind": "\(movement.kind.rawValue)", LogKey.product: "\(movement.productId)",
                    LogKey.quantity: "\(movement.quantity)",
                ])
        }
        return outcomes
    }
}
