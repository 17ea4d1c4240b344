import AMQP
import Foundation
import Logging
import Messaging
import OrderCore
import OrderStore
import Postgres
import TextCodecs

/// Applies allocations at their vendors, exactly once (the vendor database
/// records the allocation id in the same transaction as the decrement), then
/// records the results in ordersdb. A vendor that can no longer cover an
/// allocation makes it CONFLICTED and flags the order for review: a business
/// answer, not retried.
///
/// A window is applied with one transaction per vendor (`VendorStore.applyBatch`)
/// and one ordersdb statement; if a vendor's window fails, its allocations are
/// applied one by one, so one bad message or one unreachable vendor only
/// affects itself.
public struct VendorSyncHandler: DeliveryHandler {
    public let orders: PostgresPool
    public let vendors: [String: PostgresPool]

    public init(orders: PostgresPool, vendors: [String: PostgresPool]) {
        self.orders = orders
        self.vendors = vendors
    }

    public func handleBatch(_ deliveries: [AMQPDelivery], logger: Logger) async throws -> HandledWindow {
        var outcomes = [DeliveryOutcome](repeating: .done, count: deliveries.count)
        var byVendor: [String: [(index: Int, allocation: VendorAllocation)]] = [:]
        for (index, delivery) in deliveries.enumerated() {
            do {
                let allocation = try VendorAllocation.decode(delivery.body)
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
        var synced: [(index: Int, allocation: VendorAllocation, result: VendorApplyResult)] = []
        for (vendorId, items) in byVendor.sorted(by: { $0.key < $1.key }) {
            let results = await applyAtVendor(items.map(\.allocation), vendor: vendors[vendorId]!, logger: logger)
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

    /// One transaction for the vendor's window; one per allocation if that fails,
    /// unless the vendor cannot be reached at all (then every one fails with that,
    /// rather than each trying to connect again).
    private func applyAtVendor(_ allocations: [VendorAllocation], vendor: PostgresPool, logger: Logger) async -> [Result<VendorApplyResult, any Error>] {
        do {
            return try await vendor.withConnection { try VendorStore.applyBatch(allocations, on: $0) }.map { .success($0) }
        } catch let error as PostgresError where error.kind == .connection {
            return allocations.map { _ in .failure(error) }
        } catch {
            // Logged: a batch path that always fails would otherwise hide behind this fallback.
            logger.warning(
                "vendor window transaction failed; applying its allocations one by one",
                metadata: ["vendor": "\(allocations[0].vendorId)", "batch": "\(allocations.count)", "error": "\(error)"])
        }
        var results: [Result<VendorApplyResult, any Error>] = []
        for allocation in allocations {
            do {
                results.append(.success(try await vendor.withConnection { try VendorStore.apply(allocation, on: $0) }))
            } catch {
                results.append(.failure(error))
            }
        }
        return results
    }

    /// ordersdb's side: APPLIED in one statement, CONFLICTED one by one (rare). The vendor
    /// side is done and idempotent, so a failure here only retries this update.
    private func record(_ synced: [(index: Int, allocation: VendorAllocation, result: VendorApplyResult)], logger: Logger) async -> [(Int, DeliveryOutcome)] {
        var outcomes: [(Int, DeliveryOutcome)] = []
        let applied = synced.filter { $0.result == .applied || $0.result == .alreadyApplied }
        var recordFailed = false
        if !applied.isEmpty {
            do {
                try await orders.withConnection { try AllocationStore.markApplied(applied.map(\.allocation.allocationId), on: $0) }
            } catch {
                recordFailed = true
                outcomes += applied.map { ($0.index, .retry(reason: "database-unavailable", message: "\(error)")) }
            }
        }
        for (index, allocation, result) in synced {
            // Not synced yet: ordersdb did not take it, and the retry comes back here.
            if recordFailed, result == .applied || result == .alreadyApplied { continue }
            var logger = logger
            logger[metadataKey: "order_id"] = .string(UUIDText.string(allocation.orderId))
            logger[metadataKey: "allocation_id"] = .string(UUIDText.string(allocation.allocationId))
            logger[metadataKey: "vendor"] = "\(allocation.vendorId)"
            if case .conflicted(let reason) = result {
                do {
                    try await orders.withConnection { try AllocationStore.markConflicted(allocation, reason: reason, on: $0) }
                    logger.warning("allocation conflicted at the vendor; order flagged for review", metadata: ["reason": "\(reason)"])
                } catch {
                    outcomes.append((index, .retry(reason: "database-unavailable", message: "\(error)")))
                    continue
                }
            }
            logger.info("allocation synced", metadata: ["result": "\(result)", "product": "\(allocation.productId)", "quantity": "\(allocation.quantity)"])
        }
        return outcomes
    }
}
