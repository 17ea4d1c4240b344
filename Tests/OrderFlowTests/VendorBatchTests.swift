import AMQP
import Foundation
import Messaging
import OrderCore
import OrderStore
import TestSupport
import Testing
import TextCodecs

/// vendor_sync messages that carry many movements: one per vendor per window
/// from order-worker, applied movement by movement by vendor-sync, and split
/// when their movements' outcomes differ, so one bad movement never holds
/// its batch-mates back.
@Suite(.timeLimit(.minutes(3))) struct VendorBatchTests {
    private func order(_ lines: [(String, Int)]) -> OrderPlaced {
        OrderPlaced(orderId: UUID(), lines: lines.map { OrderLine(productId: $0.0, quantity: $0.1) }, idempotencyKey: nil, acceptedAt: Date())
    }

    /// A batch as order-worker publishes it, with its properties.
    private func message(_ batch: VendorMovementBatch, _ system: OrderSystemFixture) -> (body: [UInt8], properties: AMQPProperties) {
        let message = AMQPOutgoingMessage(batch.outboundMessage(queue: system.topology.vendorSync.main), timestamp: Date())
        return (message.body, message.properties)
    }

    /// Confirms `orders` in one window of the real worker and returns the vendor_sync messages it published.
    private func confirmInOneWindow(_ orders: [OrderPlaced], _ system: OrderSystemFixture) async throws -> [AMQPDelivery] {
        for placed in orders { try await system.publish(placed) }
        let statuses = try await system.withWorker([
            "WORKER_BATCH_SIZE": "\(orders.count)", "WORKER_LINGER_MS": "1000", "WORKER_CONCURRENCY": "1",
        ]) { try await system.waitForOrders(orders.map(\.orderId)) }
        try #require(orders.allSatisfy { statuses[$0.orderId] == "CONFIRMED" }, "\(statuses)")
        return try await system.drain(system.topology.vendorSync.main)
    }

    /// Two confirmed orders of `product` (10 units at vendorA): the allocation
    /// of `applies`, and the restock of `waits`, whose allocation is lost on the
    /// way (drained), so the vendor holds the restock back (a retry).
    private func allocationAndWaitingRestock(_ system: OrderSystemFixture, _ name: String) async throws
        -> (product: String, applies: OrderPlaced, waits: OrderPlaced, allocation: VendorMovement, restock: VendorMovement)
    {
        let product = try system.vendorProduct(name, stock: ["vendorA": 10])
        let applies = order([(product, 2)]), waits = order([(product, 3)])
        let published = try OrderSystemFixture.movements(in: try await confirmInOneWindow([applies, waits], system).map(\.body))
        let allocation = try #require(published.first { $0.orderId == applies.orderId })
        let restock = try #require(try system.restockAll(waits.orderId).first)
        return (product, applies, waits, allocation, restock)
    }

    @Test func aWindowOfOrdersOverTwoVendorsIsOneMessagePerVendorAndEachMovementAppliesOnce() async throws {
        try await OrderSystemFixture.with { system in
            let productA = try system.vendorProduct("batch-a", stock: ["vendorA": 100])
            let productB = try system.vendorProduct("batch-b", stock: ["vendorB": 100])
            let orders = (1...8).map { order([(productA, $0), (productB, 9 - $0)]) }
            let published = try await confirmInOneWindow(orders, system)

            #expect(published.count == 2, "one vendor_sync message per vendor for the window's 16 allocations")
            #expect(published.allSatisfy { $0.properties.type == VendorMovementBatch.messageType })
            let batches = try published.map { try VendorMovementBatch.decode($0.body) }
            #expect(batches.map { Set($0.entries.map(\.movement.vendorId)) } == [["vendorA"], ["vendorB"]])
            #expect(batches.allSatisfy { $0.invalid.isEmpty && $0.entries.count == 8 })
            #expect(batches[0].entries.map(\.movement.quantity).sorted() == Array(1...8))
            #expect(Set(batches[0].entries.map(\.movement.orderId)) == Set(orders.map(\.orderId)))
            for (delivery, batch) in zip(published, batches) {
                let expected = VendorMovementBatch(vendorId: batch.entries[0].movement.vendorId, entries: batch.entries)
                #expect(delivery.properties.messageID == UUIDText.string(expected.messageId), "deterministic from the movement ids")
                #expect(delivery.properties.correlationID == nil, "eight orders: no one correlation id")
                // The first order's movements go under the message's trace, every other order's name its own.
                let first = batch.entries[0].movement.orderId
                #expect(batch.entries.allSatisfy { ($0.movement.orderId == first) == ($0.traceparent == nil) })
                let traces = Dictionary(grouping: batch.entries.filter { $0.traceparent != nil }, by: \.movement.orderId).mapValues {
                    Set($0.compactMap(\.traceparent))
                }
                #expect(traces.count == 7 && traces.values.allSatisfy { $0.count == 1 })
            }

            try await system.withVendorSync {
                try await system.publish(published.map { (body: $0.body, properties: $0.properties) }, to: system.topology.vendorSync.main)
                #expect(try await system.waitForAllocationsSettled(orders.map(\.orderId)) == ["APPLIED": 16])
                // A re-publication of the same batches (a redelivered window) changes nothing.
                try await system.publish(published.map { (body: $0.body, properties: $0.properties) }, to: system.topology.vendorSync.main)
                try await system.waitUntilTaken(system.topology.vendorSync.main)
            }
            try await system.expectSettled(system.topology.vendorSync)
            #expect(try system.appliedMovements("vendorA", productA) == (count: 8, units: 36))
            #expect(try system.appliedMovements("vendorB", productB) == (count: 8, units: 36))
            #expect(try system.vendorStock("vendorA", productA) == 64)
            #expect(try system.vendorStock("vendorB", productB) == 64)
        }
    }

    @Test func aPoisonEntryIsDeadLetteredAloneAndItsBatchMatesApply() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.vendorProduct("batch-poison", stock: ["vendorA": 50])
            let orders = (1...3).map { _ in order([(product, 2)]) }
            let published = try await confirmInOneWindow(orders, system)
            try #require(published.count == 1)
            let good = try VendorMovementBatch.decode(published[0].body).entries.map { String(decoding: $0.movement.encoded(), as: UTF8.self) }
            let poisonId = UUIDText.string(UUID())
            let poison = #"{"kind":"allocate","movementId":"\#(poisonId)","orderId":"\#(UUIDText.string(orders[0].orderId))","productId":"\#(product)","quantity":0,"vendorId":"vendorA"}"#
            let body = #"{"movements":[\#(good[0]),\#(poison),\#(good[1]),\#(good[2])],"vendorId":"vendorA"}"#

            var properties = published[0].properties
            properties.headers["traceparent"] = .string("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
            try await system.withVendorSync {
                try await system.publish([(Array(body.utf8), properties)], to: system.topology.vendorSync.main)
                #expect(try await system.waitForAllocationsSettled(orders.map(\.orderId)) == ["APPLIED": 3])
                #expect(try await system.waitForDepth(system.topology.vendorSync.deadLetter, atLeast: 1) == 1)
            }
            let dead = try await system.drain(system.topology.vendorSync.deadLetter)
            try #require(dead.count == 1)
            #expect(String(decoding: dead[0].body, as: UTF8.self) == poison, "the entry alone, as a single movement's body")
            let headers = dead[0].properties.headers
            #expect(headers["x-error-reason"]?.stringValue == "invalid-message")
            #expect(headers["x-error-message"]?.stringValue == "movements[1]: quantity: must be an integer from 1 to 1000000")
            #expect(headers["x-original-queue"]?.stringValue == system.topology.vendorSync.main)
            #expect(headers["x-retry-count"]?.intValue ?? 0 == 0)
            #expect(headers["traceparent"] == properties.headers["traceparent"], "the batch's trace goes on")
            #expect(dead[0].properties.messageID == poisonId)
            #expect(dead[0].properties.type == VendorMovement.messageType)
            try await system.expectSettled(system.topology.vendorSync)
            #expect(try system.appliedMovements("vendorA", product) == (count: 3, units: 6))
        }
    }

    /// A restock whose allocation has not reached the vendor waits (a retry),
    /// while the allocation beside it in the batch applies: the batch is acked,
    /// and the retry copy holds the restock alone.
    @Test func aBatchWhoseMovementsDisagreeIsSplitAndOnlyTheWaitingOneIsRetried() async throws {
        try await OrderSystemFixture.with { system in
            let (product, applies, waits, allocation, restock) = try await allocationAndWaitingRestock(system, "batch-split")
            let batch = VendorMovementBatch(vendorId: "vendorA", entries: [.init(allocation), .init(restock)])
            var sent = message(batch, system)
            sent.properties.headers["traceparent"] = .string("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")

            let retryQueue = system.topology.vendorSync.retryQueue(attempt: 1)
            let retried = try await system.withVendorSync {
                try await system.publish([sent], to: system.topology.vendorSync.main)
                #expect(try await system.waitForAllocationsSettled([applies.orderId]) == ["APPLIED": 1])
                #expect(try await system.waitForDepth(retryQueue, atLeast: 1) == 1)
                return try await system.drain(retryQueue)
            }
            try #require(retried.count == 1)
            #expect(retried[0].body == restock.encoded(), "the restock alone, as its single message")
            let properties = retried[0].properties
            #expect(properties.headers["x-retry-count"]?.intValue == 1)
            #expect(properties.headers["x-error-reason"]?.stringValue == "restock-ahead-of-allocation")
            #expect(properties.headers["traceparent"] == sent.properties.headers["traceparent"])
            #expect(properties.messageID == UUIDText.string(restock.movementId))
            #expect(properties.correlationID == UUIDText.string(waits.orderId))
            #expect(properties.type == VendorMovement.messageType)
            try await system.expectSettled(system.topology.vendorSync)
            #expect(try system.appliedMovements("vendorA", product) == (count: 1, units: 2))
            #expect(try system.appliedMovements("vendorA", product, kind: .restock) == (count: 0, units: 0))
        }
    }

    /// A split part is routed as a message of its own would be: the waiting
    /// restock of a batch whose retries are spent goes to the DLQ alone, and
    /// its order is flagged first (`retriesExhausted` for that part), while the
    /// allocation beside it applies.
    @Test func aSplitPartWhoseRetriesAreSpentGoesToTheDLQAloneAndIsSettled() async throws {
        try await OrderSystemFixture.with { system in
            let (product, applies, waits, allocation, restock) = try await allocationAndWaitingRestock(system, "batch-spent")
            var sent = message(VendorMovementBatch(vendorId: "vendorA", entries: [.init(allocation), .init(restock)]), system)
            sent.properties.headers["x-retry-count"] = .int32(2)
            try await system.withVendorSync(["MAX_RETRIES": "2"]) {
                try await system.publish([sent], to: system.topology.vendorSync.main)
                #expect(try await system.waitForAllocationsSettled([applies.orderId]) == ["APPLIED": 1])
                #expect(try await system.waitForDepth(system.topology.vendorSync.deadLetter, atLeast: 1) == 1)
            }
            let dead = try await system.drain(system.topology.vendorSync.deadLetter)
            try #require(dead.count == 1)
            #expect(dead[0].body == restock.encoded())
            #expect(dead[0].properties.headers["x-error-reason"]?.stringValue == "restock-ahead-of-allocation")
            #expect(dead[0].properties.headers["x-retry-count"]?.intValue == 2)
            #expect(try OrderSystemFixture.database { try OrderQueries.order(waits.orderId, on: $0) }?.reviewRequired == true)
            #expect(try OrderSystemFixture.database { try OrderQueries.order(applies.orderId, on: $0) }?.reviewRequired == false)
            try await system.expectSettled(system.topology.vendorSync)
            #expect(try system.appliedMovements("vendorA", product) == (count: 1, units: 2))
        }
    }

    /// A batch whose movements all wait spends its retries whole, goes to the
    /// DLQ whole (each movement's order flagged), is found there by a movement
    /// id and shown movement by movement, and once its allocations arrived a
    /// replay (twice) applies each restock once.
    @Test func aBatchInTheDLQIsFoundByItsMovementsAndItsReplayAppliesOnce() async throws {
        try await OrderSystemFixture.with(retryDelayMilliseconds: 200) { system in
            let product = try system.vendorProduct("batch-replay", stock: ["vendorA": 10])
            let orders = [order([(product, 2)]), order([(product, 3)])]
            let allocations = try OrderSystemFixture.movements(in: try await confirmInOneWindow(orders, system).map(\.body))
            try #require(allocations.count == 2)
            let restocks = try orders.flatMap { try system.restockAll($0.orderId) }
            let batch = VendorMovementBatch(vendorId: "vendorA", entries: restocks.map { .init($0) })
            try await system.withVendorSync(["MAX_RETRIES": "1"]) {
                try await system.publish([message(batch, system)], to: system.topology.vendorSync.main)
                #expect(try await system.waitForDepth(system.topology.vendorSync.deadLetter, atLeast: 1) == 1)
            }
            for placed in orders {
                let flagged = try OrderSystemFixture.database { try OrderQueries.order(placed.orderId, on: $0) }
                #expect(flagged?.reviewRequired == true, "each movement of the batch settled when its retries were spent")
            }
            let dlq = ["--queue-prefix", system.prefix, "--queue", system.topology.vendorSync.deadLetter]
            let peek = try Command.orderctl(["dlq", "peek", "--message-id", UUIDText.string(restocks[1].movementId)] + dlq)
            #expect(peek.status == 0, "\(peek.stderr)")
            #expect(peek.stdout.contains("reason: restock-ahead-of-allocation"), "\(peek.stdout)")
            #expect(peek.stdout.contains("movements: 2"), "\(peek.stdout)")
            for restock in restocks {
                #expect(
                    peek.stdout.contains(
                        "vendor=vendorA kind=restock order=\(UUIDText.string(restock.orderId)) product=\(product) quantity=\(restock.quantity) "
                            + "movement=\(UUIDText.string(restock.movementId))"), "\(peek.stdout)")
            }
            let listed = try Command.orderctl(["dlq", "list", "--output", "json"] + dlq)
            let queues = (try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [String: Any])?["queues"] as? [[String: Any]]
            #expect(queues?.first?["movements"] as? Int == 2, "one message holding two movements: \(listed.stdout)")
            #expect(queues?.first?["scanned"] as? Int == 1)
            let byOrder = try Command.orderctl(["dlq", "peek", "--containing", UUIDText.string(orders[0].orderId).uppercased(), "--output", "json"] + dlq)
            #expect(byOrder.stdout.contains(UUIDText.string(batch.messageId)), "\(byOrder.stdout)")
            let none = try Command.orderctl(["dlq", "peek", "--message-id", UUIDText.string(UUID())] + dlq)
            #expect(!none.stdout.contains(UUIDText.string(batch.messageId)), "\(none.stdout)")

            try await system.withVendorSync {
                try await system.publish(allocations.map(OrderSystemFixture.message), to: system.topology.vendorSync.main)
                try await system.waitUntilTaken(system.topology.vendorSync.main)
                let replayed = try Command.orderctl(["dlq", "replay", "--message-id", UUIDText.string(restocks[0].movementId)] + dlq)
                #expect(replayed.stdout.split(separator: "\n").last == "replayed 1, skipped 0, failed 0", "\(replayed.stdout) \(replayed.stderr)")
                #expect(try await system.waitForAllocationsSettled(orders.map(\.orderId)) == ["APPLIED": 4])
                // A second copy (a careless replay) is refused by the vendor's record.
                try await system.publish([message(batch, system)], to: system.topology.vendorSync.main)
                try await system.waitUntilTaken(system.topology.vendorSync.main)
            }
            try await system.expectSettled(system.topology.vendorSync)
            #expect(try system.appliedMovements("vendorA", product, kind: .restock) == (count: 2, units: 5))
            #expect(try system.vendorStock("vendorA", product) == 10, "taken and given back once each")
        }
    }
}
