import AMQP
import Foundation
import Logging
import Messaging
import OrderCore
import OrderStore
import Postgres
import TextCodecs
import Topology

/// Applies a window of order messages: decode (poison → DLQ), one PostgreSQL
/// transaction, and one `vendor_sync` message per allocation for the
/// `QueueWorker` to publish. It acks only after those are confirmed, so a crash
/// at any point redelivers the messages and the order id keeps each from
/// applying twice.
public struct OrderMessageHandler: DeliveryHandler {
    public let database: PostgresPool
    public let topology: Topology

    public init(database: PostgresPool, topology: Topology) {
        self.database = database
        self.topology = topology
    }

    /// A window of orders in one transaction (`OrderBatchApplier`); if that
    /// fails for any reason but an unreachable database, one transaction per
    /// order (`OrderApplier`), so a bad or conflicting order only affects itself. Returns the window's
    /// vendor_sync messages, which the worker confirms before it acks.
    public func handleBatch(_ deliveries: [AMQPDelivery], logger: Logger) async throws -> HandledWindow {
        var outcomes = [DeliveryOutcome](repeating: .done, count: deliveries.count)
        var valid: [(index: Int, order: OrderPlaced)] = []
        for (index, delivery) in deliveries.enumerated() {
            do {
                valid.append((index, try OrderPlaced.decode(delivery.body)))
            } catch {
                outcomes[index] = .deadLetter(reason: error.reason.rawValue, message: error.detail)
            }
        }
        guard !valid.isEmpty else { return HandledWindow(outcomes: outcomes) }

        var applied: [(index: Int, result: OrderApplication)] = []
        let orders = valid.map(\.order)
        do {
            let results = try await database.withConnection { connection in try OrderBatchApplier.apply(orders, on: connection) }
            applied = zip(valid.map(\.index), results).map { ($0, $1) }
        } catch let error as PostgresError where error.kind == .connection {
            // The database cannot be reached: every order retries, without each trying to connect again.
            for (index, _) in valid { outcomes[index] = .retry(reason: Self.reason(for: error), message: error.description) }
        } catch {
            // Logged: a batch path that always fails would otherwise hide behind this fallback.
            logger.warning("window transaction failed; applying its orders one by one", metadata: ["batch": "\(valid.count)", "error": "\(error)"])
            for (index, order) in valid {
                do {
                    applied.append((index, try await database.withConnection { connection in try OrderApplier.apply(order, on: connection) }))
                } catch let error as PostgresError {
                    outcomes[index] = .retry(reason: Self.reason(for: error), message: error.description)
                }
            }
        }
        for (_, result) in applied {
            logger.info(
                "order applied",
                metadata: [
                    "order_id": .string(UUIDText.string(result.orderId)), "status": "\(result.status.rawValue)", "duplicate": "\(result.duplicate)",
                    "allocations": "\(result.allocations.count)", "reason": "\(result.reason ?? "")", "batch": "\(deliveries.count)",
                ])
        }
        return HandledWindow(outcomes: outcomes, messages: vendorSyncMessages(applied.map(\.result)))
    }

    /// One message per allocation of the confirmed orders. A duplicate
    /// re-publishes the same allocation ids: vendor-sync applies each once.
    private func vendorSyncMessages(_ results: [OrderApplication]) -> [AMQPOutgoingMessage] {
        let queue = topology.vendorSync.main
        let now = Date()
        return results.filter { $0.status == .confirmed }.flatMap(\.allocations).map { allocation in
            AMQPOutgoingMessage(
                allocation.encoded(), routingKey: queue, mandatory: true,
                properties: AMQPProperties(
                    contentType: "application/json", deliveryMode: .persistent, correlationID: UUIDText.string(allocation.orderId),
                    messageID: UUIDText.string(allocation.allocationId), timestamp: now, type: VendorAllocation.messageType))
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
