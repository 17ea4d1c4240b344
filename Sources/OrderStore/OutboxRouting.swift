import Foundation
import OrderCore
import Postgres
import TextCodecs

/// Where the messages of a transaction that no incoming message drives (an
/// API command, the sweeper, a reallocation, a payment outcome) go through the outbox:
/// the order events' exchange, the vendor_sync and payments queues, and when
/// stock levels are announced.
public struct OutboxRouting: Sendable {
    public let orderEvents: String
    public let vendorSyncQueue: String
    /// Where the payment commands a transition asks for go (`Topology.payments.main`).
    public let paymentsQueue: String
    public let stockLevels: StockLevelPolicy

    public init(orderEvents: String, vendorSyncQueue: String, paymentsQueue: String, stockLevels: StockLevelPolicy) {
        self.orderEvents = orderEvents
        self.vendorSyncQueue = vendorSyncQueue
        self.paymentsQueue = paymentsQueue
        self.stockLevels = stockLevels
    }

    /// Writes what the transaction implies to the outbox, last in it (the
    /// stock rows are locked): each changed order's whole history (a
    /// subscriber dedups by event id, and no later event overtakes an earlier
    /// one a crash kept back), a vendor_sync message per vendor for the
    /// vendor-bound movements (one trace, the transaction's, so no entry
    /// names its own), the payment commands, and the `inventory.*` events of the
    /// products whose stock changed.
    func enqueue(
        orders: [UUID], movements: [StockStatements.NewMovement], payments: [PaymentCommand] = [], on connection: PostgresConnection
    ) throws {
        var messages: [OutboundMessage] = []
        for orderId in orders {
            messages += try OrderHistory.eventMessages(of: orderId, exchange: orderEvents, on: connection)
        }
        messages += VendorMovementBatch.grouped(movements.compactMap { $0.vendorMovement.map { VendorMovementBatch.Entry($0) } })
            .map { $0.outboundMessage(queue: vendorSyncQueue) }
        messages += payments.map { $0.outboundMessage(queue: paymentsQueue) }
        try Outbox.enqueue(messages, on: connection)
        try InventoryLevels.update(Set(movements.map(\.productId)), policy: stockLevels, exchange: orderEvents, on: connection)
    }
}
