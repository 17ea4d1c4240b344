import AMQP
import Foundation
import Logging
import Messaging
import OrderCore
import OrderStore
import Postgres

/// Applies one allocation at its vendor, exactly once (the vendor database
/// records the allocation id in the same transaction as the decrement), then
/// records the result in ordersdb. A vendor that can no longer cover the
/// allocation makes it CONFLICTED and flags the order for review: a business
/// answer, not retried.
public struct VendorSyncHandler: SingleDeliveryHandler {
    public let orders: PostgresPool
    public let vendors: [String: PostgresPool]

    public init(orders: PostgresPool, vendors: [String: PostgresPool]) {
        self.orders = orders
        self.vendors = vendors
    }

    public func handle(_ delivery: AMQPDelivery, logger: Logger) async throws -> DeliveryOutcome {
        let allocation: VendorAllocation
        do {
            allocation = try VendorAllocation.decode(delivery.body)
        } catch {
            return .deadLetter(reason: error.reason.rawValue, message: error.detail)
        }
        guard let vendor = vendors[allocation.vendorId] else {
            return .deadLetter(reason: "unknown-vendor", message: "no database configured for vendor \(allocation.vendorId) (VENDOR_DATABASE_URLS)")
        }
        var logger = logger
        logger[metadataKey: "order_id"] = "\(allocation.orderId)"
        logger[metadataKey: "allocation_id"] = "\(allocation.allocationId)"
        logger[metadataKey: "vendor"] = "\(allocation.vendorId)"

        let result: VendorApplyResult
        do {
            result = try await vendor.withConnection { try VendorStore.apply(allocation, on: $0) }
        } catch let error as PostgresError {
            return .retry(reason: error.isTransient || error.kind == .connection ? "vendor-database-unavailable" : "vendor-database-error", message: error.description)
        }
        do {
            switch result {
            case .applied, .alreadyApplied:
                try await orders.withConnection { try AllocationStore.markApplied(allocation.allocationId, on: $0) }
            case .conflicted(let reason):
                try await orders.withConnection { try AllocationStore.markConflicted(allocation, reason: reason, on: $0) }
                logger.warning("allocation conflicted at the vendor; order flagged for review", metadata: ["reason": "\(reason)"])
            }
        } catch let error as PostgresError {
            // The vendor side is done and idempotent; retrying only repeats the ordersdb update.
            return .retry(reason: "database-unavailable", message: error.description)
        }
        logger.info("allocation synced", metadata: ["result": "\(result)", "product": "\(allocation.productId)", "quantity": "\(allocation.quantity)"])
        return .done
    }
}
