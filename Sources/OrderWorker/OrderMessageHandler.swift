import AMQP
import Foundation
import Logging
import Messaging
import OrderCore
import OrderStore
import Postgres
import Topology

/// Applies one order message: decode (poison → DLQ), one PostgreSQL
/// transaction (`OrderApplier`), then one confirmed `vendor_sync` message per
/// allocation. The `QueueWorker` acks only after this returns, so a crash at
/// any point redelivers the message and the order id keeps it from applying twice.
public struct OrderMessageHandler: DeliveryHandler {
    public let database: PostgresPool
    public let topology: Topology

    public init(database: PostgresPool, topology: Topology) {
        self.database = database
        self.topology = topology
    }

    public func handle(_ delivery: AMQPDelivery, publisher: AMQPChannel, logger: Logger) async throws -> DeliveryOutcome {
        let order: OrderPlaced
        do {
            order = try OrderPlaced.decode(delivery.body)
        } catch {
            return .deadLetter(reason: error.reason.rawValue, message: error.detail)
        }
        let result: OrderApplication
        do {
            result = try await database.withConnection { connection in try OrderApplier.apply(order, on: connection) }
        } catch let error as PostgresError {
            return .retry(reason: Self.reason(for: error), message: error.description)
        }
        try await publishAllocations(result, publisher: publisher)
        logger.info(
            "order applied",
            metadata: [
                "order_id": "\(order.orderId)", "status": "\(result.status.rawValue)", "duplicate": "\(result.duplicate)",
                "allocations": "\(result.allocations.count)", "reason": "\(result.reason ?? "")",
            ])
        return .done
    }

    /// One message per allocation, all in flight together, each confirmed.
    /// A duplicate re-publishes the same allocation ids: vendor-sync applies each once.
    private func publishAllocations(_ result: OrderApplication, publisher: AMQPChannel) async throws {
        guard result.status == .confirmed, !result.allocations.isEmpty else { return }
        let queue = topology.vendorSync.main
        try await withThrowingTaskGroup(of: Void.self) { group in
            for allocation in result.allocations {
                group.addTask {
                    try await publisher.publish(
                        allocation.encoded(), routingKey: queue, mandatory: true,
                        properties: AMQPProperties(
                            contentType: "application/json", deliveryMode: .persistent, correlationID: allocation.orderId.uuidString,
                            messageID: allocation.allocationId.uuidString, timestamp: Date(), type: VendorAllocation.messageType))
                }
            }
            try await group.waitForAll()
        }
    }

    public func retriesExhausted(_ delivery: AMQPDelivery, reason: String, logger: Logger) async {
        guard let order = try? OrderPlaced.decode(delivery.body) else { return }
        do {
            try await database.withConnection { connection in
                try OrderApplier.markFailed(order, reason: "processing failed after retries: \(reason)", on: connection)
            }
        } catch {
            logger.warning("could not record the order as FAILED", metadata: ["error": "\(error)"])
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
