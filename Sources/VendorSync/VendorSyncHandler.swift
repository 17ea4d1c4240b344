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
import W3CTraceContext

/// Applies stock movements (allocations and restocks) at their vendors, from
/// single messages and batches (``VendorMovementBatch``) alike,
/// exactly once (the vendor database records the movement id in the same
/// transaction as the stock change), then records the results in ordersdb. A
/// movement the vendor refuses is a business answer, never retried: an
/// allocation moves to another vendor that has the units, or, when none has,
/// flags the order for review, as a refused restock does
/// (`MovementStore.settleRefusal`).
///
/// A window is applied with one transaction per vendor (`VendorStore.apply`)
/// and one ordersdb statement; if a vendor's window fails, its movements are
/// applied one by one (`WindowFallback`), so one bad message only affects
/// itself. The movements ordersdb records as APPLIED are counted by vendor:
/// `vendor_movements_applied_total` (`AppliedMovements`).
///
/// Outages are nobody's retry: ordersdb away (every movement needs it, to be
/// checked before and recorded after) throws ``DependencyUnavailable`` for the
/// whole window, which is handed again once ordersdb is back (the vendor side
/// is idempotent, so what a vendor already applied is `alreadyApplied` then);
/// one vendor's database away postpones that vendor's movements alone, behind
/// its own circuit breaker (``VendorBreakers``), while the other vendors' go through.
public struct VendorSyncHandler: DeliveryHandler {
    public let orders: PostgresPool
    public let vendors: [String: PostgresPool]
    public let routing: OutboxRouting
    public let breakers: VendorBreakers

    public init(orders: PostgresPool, vendors: [String: PostgresPool], routing: OutboxRouting, breakers: VendorBreakers) {
        self.orders = orders
        self.vendors = vendors
        self.routing = routing
        self.breakers = breakers
        AppliedMovements.expose(vendors: vendors.keys)
    }

    /// One movement of a window: a single message's, or an entry of a batch
    /// (a delivery's items are consecutive, in entry order).
    private struct Item {
        let entry: VendorMovementBatch.Entry
        /// Its order's trace: its lines and what settling it writes to the outbox carry it.
        let trace: TraceContext
        var movement: VendorMovement { entry.movement }
    }

    /// The window's movements, flattened from all its deliveries (single
    /// messages and batches alike), are applied as one set; their outcomes
    /// are then folded back onto the deliveries (``fold(_:decoded:poisoned:items:outcomes:)``).
    public func handleBatch(_ deliveries: [AMQPDelivery], logger: Logger) async throws -> HandledWindow {
        var poisoned = [DeliveryOutcome?](repeating: nil, count: deliveries.count)
        var decoded = [VendorMovementBatch.Decoded?](repeating: nil, count: deliveries.count)
        var items: [Item] = []
        items.reserveCapacity(deliveries.count)
        for (index, delivery) in deliveries.enumerated() {
            do {
                let message = try VendorMovementBatch.decode(delivery.body)
                decoded[index] = message
                let trace = delivery.trace
                for entry in message.entries {
                    items.append(Item(entry: entry, trace: entry.traceparent.flatMap { TraceContext(traceparent: $0) } ?? trace))
                }
            } catch {
                poisoned[index] = .deadLetter(reason: error.reason.rawValue, message: error.detail)
            }
        }
        var outcomes = [DeliveryOutcome](repeating: .done, count: items.count)
        var byVendor: [String: [Int]] = [:]
        for (index, item) in items.enumerated() {
            guard vendors[item.movement.vendorId] != nil else {
                outcomes[index] = .deadLetter(
                    reason: "unknown-vendor", message: "no database configured for vendor \(item.movement.vendorId) (VENDOR_DATABASE_URLS)")
                continue
            }
            byVendor[item.movement.vendorId, default: []].append(index)
        }
        func folded() -> HandledWindow {
            HandledWindow(outcomes: fold(deliveries, decoded: decoded, poisoned: poisoned, items: items, outcomes: outcomes))
        }
        // A movement ordersdb has already settled as CONFLICTED (an allocation
        // refused and reallocated, a void restock) is never applied, whatever copy
        // of it comes back: its vendor would give up, or get back, units twice.
        let all = byVendor.values.flatMap { $0.map { items[$0].movement.movementId } }
        switch try await ordersdb({ try MovementStore.conflicted(all, on: $0) }) {
        case .success(let settled) where !settled.isEmpty:
            for (vendorId, indices) in byVendor {
                for index in indices where settled.contains(items[index].movement.movementId) {
                    let movement = items[index].movement
                    logger.info(
                        "movement already settled as refused; not applied",
                        metadata: ([
                            LogKey.orderId: .string(UUIDText.string(movement.orderId)),
                            LogKey.movementId: .string(UUIDText.string(movement.movementId)), LogKey.vendor: "\(vendorId)",
                        ] as Logger.Metadata).merging(items[index].trace.logMetadata) { $1 })
                    outcomes[index] = .done
                }
                byVendor[vendorId] = indices.filter { !settled.contains(items[$0].movement.movementId) }
            }
        case .success:
            break
        case .failure(let error):
            for indices in byVendor.values {
                for index in indices { outcomes[index] = .retry(reason: "database-error", message: "\(error)") }
            }
            return folded()
        }
        var synced: [(item: Int, result: VendorApplyResult)] = []
        for (vendorId, indices) in byVendor.sorted(by: { $0.key < $1.key }) where !indices.isEmpty {
            guard breakers.admit(vendorId) else {
                for index in indices { outcomes[index] = VendorBreakers.postponed(vendorId) }
                continue
            }
            let results = await WindowFallback.apply(
                indices.map { items[$0].movement }, on: vendors[vendorId]!, logger: logger, metadata: [LogKey.vendor: "\(vendorId)"],
                window: { try VendorStore.apply($0, on: $1) }, single: { try VendorStore.apply($0, on: $1) })
            let failures = breakers.record(vendorId, results)
            for ((index, result), failure) in zip(zip(indices, results), failures) {
                if let failure {
                    outcomes[index] = failure
                } else if case .success(let result) = result {
                    synced.append((index, result))
                }
            }
        }
        for (index, outcome) in try await record(synced, items: items, logger: logger) { outcomes[index] = outcome }
        return folded()
    }

    /// Each delivery's outcome from its movements': a single message takes its
    /// movement's; a batch whose movements all agree takes theirs (acked when
    /// all are done, else retried, postponed or dead-lettered whole); a batch
    /// whose movements disagree, or with an entry that did not decode, is
    /// split: each group of its movements that share an outcome goes as its
    /// own message (a single one, or a smaller batch), each bad entry alone to
    /// the DLQ, and the done ones are acked with it.
    private func fold(
        _ deliveries: [AMQPDelivery], decoded: [VendorMovementBatch.Decoded?], poisoned: [DeliveryOutcome?], items: [Item], outcomes: [DeliveryOutcome]
    ) -> [DeliveryOutcome] {
        var folded = [DeliveryOutcome](repeating: .done, count: deliveries.count)
        var next = 0
        for (index, delivery) in deliveries.enumerated() {
            guard let message = decoded[index] else {
                folded[index] = poisoned[index] ?? .done
                continue
            }
            let range = next..<(next + message.entries.count)
            next = range.upperBound
            guard message.isBatch else {
                folded[index] = outcomes[range.lowerBound]
                continue
            }
            if message.entries.isEmpty {
                // Nothing in it decoded: the batch is the poison.
                let details = message.invalid.map(\.poison.detail).joined(separator: "; ")
                folded[index] = .deadLetter(reason: message.invalid[0].poison.reason.rawValue, message: details)
                continue
            }
            // Groups by route (retry, postpone or DLQ, and reason), in the order their first movement comes.
            var groups: [(route: OutcomeRoute, items: [Int])] = []
            var done = 0
            for item in range {
                guard let route = OutcomeRoute(outcomes[item]) else {
                    done += 1
                    continue
                }
                if let group = groups.firstIndex(where: { $0.route == route }) {
                    groups[group].items.append(item)
                } else {
                    groups.append((route, [item]))
                }
            }
            if message.invalid.isEmpty, done == range.count {
                folded[index] = .done
                continue
            }
            if message.invalid.isEmpty, done == 0, groups.count == 1 {
                folded[index] = groups[0].route.outcome(merging: groups[0].items.map { outcomes[$0] })
                continue
            }
            var parts = groups.map { group in
                part(of: delivery, group.items.map { items[$0] }, outcome: group.route.outcome(merging: group.items.map { outcomes[$0] }))
            }
            for invalid in message.invalid {
                var properties = delivery.properties
                properties.messageID = invalid.movementId ?? "\(delivery.properties.messageID ?? "batch"):\(invalid.index)"
                properties.type = VendorMovement.messageType
                parts.append(
                    DeliveryPart(
                        body: invalid.body, properties: properties, outcome: .deadLetter(reason: invalid.poison.reason.rawValue, message: invalid.poison.detail)
                    ))
            }
            folded[index] = .split(parts)
        }
        return folded
    }

    /// The message of a group of a batch's movements: one movement as its single
    /// message (with its own trace when its entry named one), more as a smaller
    /// batch; the delivery's other properties and headers (its retry count) kept.
    private func part(of delivery: AMQPDelivery, _ group: [Item], outcome: DeliveryOutcome) -> DeliveryPart {
        let batch = VendorMovementBatch(vendorId: group[0].movement.vendorId, entries: group.map(\.entry))
        let message = batch.outboundMessage(queue: delivery.routingKey)
        var properties = delivery.properties
        properties.messageID = message.messageId
        properties.correlationID = message.correlationId
        properties.type = message.type
        if group.count == 1, group[0].entry.traceparent != nil {
            properties.headers[W3CTracePropagation.tracestate] = nil
            properties.carry(group[0].trace)
        }
        return DeliveryPart(body: message.body, properties: properties, outcome: outcome)
    }

    /// ordersdb's answer to `body`, or the error of this unit of work alone.
    /// ordersdb being away is thrown as the window's ``DependencyUnavailable``,
    /// never made one message's failure.
    private func ordersdb<T: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) throws -> T
    ) async throws(DependencyUnavailable) -> Result<T, any Error> {
        do {
            return .success(try await orders.withConnection(body))
        } catch let error as PostgresError where error.isUnavailable {
            throw DependencyUnavailable.ordersDatabase(error.reason)
        } catch {
            return .failure(error)
        }
    }

    /// A movement whose retries were spent waiting is not left PENDING and
    /// unseen: an allocation that waited for restocks is refused now (moved to
    /// other vendors, or its order flagged; a copy replayed from the DLQ is then
    /// never applied), and a restock that waited for its allocation flags its
    /// order, for an operator to replay it from the DLQ. ordersdb away holds the
    /// window (the worker calls this again before the copy reaches the DLQ).
    public func retriesExhausted(_ delivery: AMQPDelivery, reason: String, logger: Logger) async throws {
        guard let message = try? VendorMovementBatch.decode(delivery.body) else { return }
        let trace = delivery.trace
        for entry in message.entries {
            try await settleExhausted(entry.movement, trace: entry.traceparent.flatMap { TraceContext(traceparent: $0) } ?? trace, reason: reason, logger: logger)
        }
    }

    private func settleExhausted(_ movement: VendorMovement, trace: TraceContext, reason: String, logger: Logger) async throws {
        let routing = routing
        var logger = logger
        for (key, value) in trace.logMetadata { logger[metadataKey: key] = value }
        switch (movement.kind, reason) {
        case (.allocate, "allocation-waits-for-restock"):
            let settled = try await ServiceContext.withValue(.tracing(trace)) {
                try await ordersdb {
                    try MovementStore.settleRefusal(movement, reason: "vendor \(movement.vendorId) could not cover it after its retries", routing: routing, on: $0)
                }
            }
            switch settled {
            case .success(let settled): logger.warning("allocation refused after its retries", metadata: [LogKey.reason: "\(settled)"])
            case .failure(let error): logger.warning("could not settle a movement whose retries were spent", metadata: [LogKey.error: "\(error)"])
            }
        case (.restock, "restock-ahead-of-allocation"):
            if case .failure(let error) = try await ordersdb({ try MovementStore.flagStuck(movement, reason: reason, on: $0) }) {
                logger.warning("could not flag the order of a restock whose retries were spent", metadata: [LogKey.error: "\(error)"])
            }
        default:
            break
        }
    }

    /// Whether the allocation may still be covered: by the vendor's stock
    /// now (a restock landed since its window read it, from another loop) plus
    /// the PENDING restocks of that product on their way there.
    private func waitsForRestock(_ allocation: VendorMovement) async throws -> Bool {
        guard let vendor = vendors[allocation.vendorId] else { return false }
        let pending = try await ordersdb { try MovementStore.pendingRestockUnits(for: allocation, on: $0) }
        guard case .success(let coming) = pending else { return false }
        // A vendor that does not answer now may still cover it: wait (a retry) rather than refuse for good.
        let stock: Int?
        do {
            stock = try await vendor.withConnection { try VendorStore.stock(allocation.productId, on: $0).first?.stock }
        } catch {
            return true
        }
        // No row: the vendor holds none of it.
        return (stock ?? 0) + coming >= allocation.quantity
    }

    /// ordersdb's side: APPLIED in one statement, refusals one by one (rare). The vendor
    /// side is done and idempotent, so a failure here only retries this update; ordersdb
    /// away throws, and what the vendors applied is recorded when the window comes back
    /// (or by stock-sync's next pass, which finds them applied there).
    private func record(
        _ synced: [(item: Int, result: VendorApplyResult)], items: [Item], logger: Logger
    ) async throws -> [(Int, DeliveryOutcome)] {
        var outcomes: [(Int, DeliveryOutcome)] = []
        let applied = synced.filter { $0.result == .applied || $0.result == .alreadyApplied }
        var recordFailed = false
        if !applied.isEmpty {
            let ids = applied.map { items[$0.item].movement.movementId }
            switch try await ordersdb({ try MovementStore.markApplied(ids, on: $0) }) {
            case .success(let marked):
                marked.count()
            case .failure(let error):
                recordFailed = true
                outcomes += applied.map { ($0.item, .retry(reason: "database-error", message: "\(error)")) }
            }
        }
        for (index, result) in synced {
            let movement = items[index].movement
            // Not synced yet: ordersdb did not take it, and the retry comes back here.
            if recordFailed, result == .applied || result == .alreadyApplied { continue }
            var logger = logger
            logger[metadataKey: LogKey.orderId] = .string(UUIDText.string(movement.orderId))
            logger[metadataKey: LogKey.movementId] = .string(UUIDText.string(movement.movementId))
            logger[metadataKey: LogKey.vendor] = "\(movement.vendorId)"
            for (key, value) in items[index].trace.logMetadata { logger[metadataKey: key] = value }
            if case .notYetAllocated(let reason) = result {
                // Void (its allocation was refused): done. Otherwise its allocation
                // is still on its way: retry after it, and after the last retry the
                // DLQ keeps it for an operator rather than restocking units never taken.
                let id = movement.movementId
                let refused = try await ordersdb { try MovementStore.conflicted([id], on: $0) }
                let void = (try? refused.get())?.isEmpty == false
                if void {
                    logger.info("restock skipped: it undoes an allocation the vendor refused", metadata: [LogKey.reason: "\(reason)"])
                } else {
                    outcomes.append((index, .retry(reason: "restock-ahead-of-allocation", message: reason)))
                }
                continue
            }
            if case .conflicted(let reason) = result, movement.kind == .allocate, try await waitsForRestock(movement) {
                // The units it takes were given back locally by a restock the vendor
                // has not received yet: not a refusal until that restock has arrived.
                outcomes.append((index, .retry(reason: "allocation-waits-for-restock", message: reason)))
                continue
            }
            if case .conflicted(let reason) = result {
                let routing = routing
                let settled = try await ServiceContext.withValue(.tracing(items[index].trace)) {
                    try await ordersdb { try MovementStore.settleRefusal(movement, reason: reason, routing: routing, on: $0) }
                }
                switch settled {
                case .failure(let error):
                    outcomes.append((index, .retry(reason: "database-error", message: "\(error)")))
                    continue
                case .success(let settled):
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

/// Where an outcome sends a movement and why, without its detail: the
/// movements of a batch that share it travel on as one message, whose
/// `x-error-message` holds their details (each names its movement).
private struct OutcomeRoute: Hashable {
    enum Kind: Hashable { case retry, deadLetter, postpone }
    let kind: Kind
    let reason: String

    /// nil for `.done`.
    init?(_ outcome: DeliveryOutcome) {
        switch outcome {
        case .done, .split: return nil
        case .retry(let reason, _): (kind, self.reason) = (.retry, reason)
        case .deadLetter(let reason, _): (kind, self.reason) = (.deadLetter, reason)
        case .postpone(let reason, _): (kind, self.reason) = (.postpone, reason)
        }
    }

    /// The outcome of the group: this route, with the distinct details of its
    /// movements (the first few, and how many more, so a header stays small).
    func outcome(merging outcomes: [DeliveryOutcome]) -> DeliveryOutcome {
        var details: [String] = []
        var seen: Set<String> = []
        for outcome in outcomes {
            switch outcome {
            case .retry(_, let message), .deadLetter(_, let message), .postpone(_, let message):
                if seen.insert(message).inserted { details.append(message) }
            case .done, .split:
                break
            }
        }
        let shown = Self.shownDetails
        var message = details.prefix(shown).joined(separator: "; ")
        if details.count > shown { message += "; and \(details.count - shown) more" }
        switch kind {
        case .retry: return .retry(reason: reason, message: message)
        case .deadLetter: return .deadLetter(reason: reason, message: message)
        case .postpone: return .postpone(reason: reason, message: message)
        }
    }

    private static let shownDetails = 3
}
