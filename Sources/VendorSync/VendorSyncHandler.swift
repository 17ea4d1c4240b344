import AMQP
import Foundation
import Logging
import Messaging
import OrderCore
import OrderStore
import Postgres
import ServiceSupport
import TextCodecs

/// Applies allocations at their vendors, exactly once (the vendor database
/// records the allocation id in the same transaction as the decrement), then
/// records the results in ordersdb. A vendor that can no longer cover an
/// allocation makes it CONFLICTED and flags the order for review: a business
/// answer, not retried.
///
/// A window is applied with one transaction per vendor (`VendorStore.apply`)
/// and one ordersdb statement; if a vendor's window fails, its allocations are
/// applied one by one (`WindowFallback`), so one bad message or one
/// unreachable vendor only affects itself.
public struct VendorSyncHandler: DeliveryHandler {
    public let orders: PostgresPool
    public let vendors: [String: PostgresPool]

    public init(orders: PostgresPool, vendors: [String: PostgresPool]) {
        self.orders = orders
        self.vendors = vendors
    }

    public func handleBatch(_ deliveries: [AMQPDelivery], logger: Logger) async throws -> HandledWindow {
        var outcomes = [DeliveryOutcome](repeating: .done, count: deliveries.count)
        var byVendor: [String: [(index: Int, allocation: VendorMovement)]] = [:]
        for (index, delivery) in deliveries.enumerated() {
            do {
                let allocation = try VendorMovement.decode(delivery.body)
                guard vendors[allocation.vendorId] != nil else {
                    outcomes[index] = .deadLetter(
                        reason: "unknown-vendor", message: "no database configured for vendor \(allocation.vendorId) (VENDOR_DATABASE_URLS)")
                    continue
                }
                byVendor[allocation.vendorId, default: []].append((index, allocation))
            } catch {
                outcomes[index] = .deadLetter(reason: error.reason.rawValue, message: error.detail)
            }
        }
        var synced: [(index: Int, allocation: VendorMovement, result: VendorApplyResult)] = []
        for (vendorId, items) in byVendor.sorted(by: { $0.key < $1.key }) {
            let results = await WindowFallback.apply(
                items.map(\.allocation), on: vendors[vendorId]!, logger: logger, metadata: [LogKey.vendor: "\(vendorId)"],
                window: { try VendorStore.apply($0, on: $1) }, single: { try VendorStore.apply($0, on: $1) })
            for ((index, allocation), result) in zip(items, results) {
                switch result {
                case .success(let result): synced.append((index, allocation, result))
                case .failure(let error):
                    let unavailable = (error as? PostgresError).map { $0.isTransient || $0.kind == .connection } ?? false
                    outcomes[index] = .retry(reason: unavailable ? "vendor-database-unavailable" : "vendor-database-error", message: "\(error)")
                }
            }
        }
        for (index, outcome) in await record(synced, logger: logger) { outcomes[index] = outcome }
        return HandledWindow(outcomes: outcomes)
    }

    /// ordersdb's side: APPLIED in one statement, CONFLICTED one by one (rare). The vendor
    /// side is done and idempotent, so a failure here only retries this update.
    private func record(_ synced: [(index: Int, allocation: VendorMovement, result: VendorApplyResult)], logger: Logger) async -> [(Int, DeliveryOutcome)] {
        var outcomes: [(Int, DeliveryOutcome)] = []
        let applied = synced.filter { $0.result == .applied || $0.result == .alreadyApplied }
        var recordFailed = false
        if !applied.isEmpty {
            do {
                try await orders.withConnection { try AllocationStore.markApplied(applied.map(\.allocation.movementId), on: $0) }
            } catch {
                recordFailed = true
                outcomes += applied.map { ($0.index, .retry(reason: "database-unavailable", message: "\(error)")) }
            }
        }
        for (index, allocation, result) in synced {
            // Not synced yet: ordersdb did not take it, and the retry comes back here.
            if recordFailed, result == .applied || result == .alreadyApplied { continue }
            var logger = logger
            logger[metadataKey: LogKey.orderId] = .string(UUIDText.string(allocation.orderId))
            logger[metadataKey: LogKey.movementId] = .string(UUIDText.string(allocation.movementId))
            logger[metadataKey: LogKey.vendor] = "\(allocation.vendorId)"
            if case .conflicted(let reason) = result {
                do {
                    try await orders.withConnection { try AllocationStore.markConflicted(allocation, reason: reason, on: $0) }
                    logger.warning("allocation conflicted at the vendor; order flagged for review", metadata: [LogKey.reason: "\(reason)"])
                } catch {
                    outcomes.append((index, .retry(reason: "database-unavailable", message: "\(error)")))
                    continue
                }
            }
            logger.info(
                "allocation synced",
                metadata: [LogKey.result: "\(result)", LogKey.product: "\(allocation.productId)", LogKey.quantity: "\(allocation.quantity)"])
        }
        return outcomes
    }
}
