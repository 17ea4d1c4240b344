import Foundation
import Testing
import OrderCore
import TextCodecs

@Suite struct VendorMovementBatchTests {
    static let orderA = UUID(uuidString: "11111111-1111-4111-8111-111111111111")!
    static let orderB = UUID(uuidString: "22222222-2222-4222-8222-222222222222")!
    static let traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    static func movement(_ id: String, kind: VendorMovement.Kind = .allocate, order: UUID = orderA, vendor: String = "vendorA", quantity: Int = 2)
        -> VendorMovement
    {
        VendorMovement(movementId: UUID(uuidString: id)!, kind: kind, orderId: order, vendorId: vendor, productId: "p1", quantity: quantity)
    }

    static let first = movement("aaaaaaaa-0000-4000-8000-000000000001")
    static let second = movement("aaaaaaaa-0000-4000-8000-000000000002", kind: .restock, order: orderB, quantity: 5)

    @Test func aBatchIsEachMovementInItsSingleFormSortedKeysAndRoundTrips() throws {
        let batch = VendorMovementBatch(
            vendorId: "vendorA", entries: [.init(Self.first), .init(Self.second, traceparent: Self.traceparent)])
        let text = String(decoding: batch.encoded(), as: UTF8.self)
        let single = String(decoding: Self.first.encoded(), as: UTF8.self)
        #expect(
            text
                == #"{"movements":[\#(single),{"kind":"restock","movementId":"aaaaaaaa-0000-4000-8000-000000000002","orderId":"22222222-2222-4222-8222-222222222222","productId":"p1","quantity":5,"traceparent":"\#(Self.traceparent)","vendorId":"vendorA"}],"vendorId":"vendorA"}"#
        )
        // The same text as a sorted-keys writer of the whole value would give.
        #expect(try JSONValue.parse(batch.encoded()).json(pretty: false) == text)
        let decoded = try VendorMovementBatch.decode(batch.encoded())
        #expect(decoded.isBatch && decoded.invalid.isEmpty)
        #expect(decoded.entries == batch.entries)
    }

    @Test func bothTypesDecode() throws {
        let single = try VendorMovementBatch.decode(Self.first.encoded())
        #expect(!single.isBatch && single.entries == [.init(Self.first)] && single.invalid.isEmpty)
        let batch = VendorMovementBatch(vendorId: "vendorA", entries: [.init(Self.first), .init(Self.second)])
        #expect(try VendorMovementBatch.decode(batch.encoded()).entries.map(\.movement) == [Self.first, Self.second])
    }

    @Test func aBadEntryIsNamedAndItsBatchMatesDecode() throws {
        let good = String(decoding: Self.first.encoded(), as: UTF8.self)
        let body = #"{"movements":[\#(good),{"kind":"allocate","movementId":"aaaaaaaa-0000-4000-8000-000000000009","orderId":"x","productId":"p1","quantity":true,"vendorId":"vendorA"},7],"vendorId":"vendorA"}"#
        let decoded = try VendorMovementBatch.decode(Array(body.utf8))
        #expect(decoded.entries.map(\.movement) == [Self.first])
        #expect(decoded.invalid.map(\.index) == [1, 2])
        let bad = decoded.invalid[0]
        #expect(bad.poison.reason == .invalid)
        #expect(bad.poison.detail.hasPrefix("movements[1]: "))
        #expect(bad.poison.detail.contains("orderId: not a UUID") && bad.poison.detail.contains("quantity: must be an integer, not boolean"))
        #expect(bad.movementId == "aaaaaaaa-0000-4000-8000-000000000009")
        // Its own JSON, to be dead-lettered alone.
        #expect(
            String(decoding: bad.body, as: UTF8.self)
                == #"{"kind":"allocate","movementId":"aaaaaaaa-0000-4000-8000-000000000009","orderId":"x","productId":"p1","quantity":true,"vendorId":"vendorA"}"#)
        #expect(decoded.invalid[1].poison.detail == "movements[2]: must be a JSON object, not number")
        #expect(String(decoding: decoded.invalid[1].body, as: UTF8.self) == "7")
    }

    @Test func anEntryOfAnotherVendorIsInvalid() throws {
        let other = Self.movement("aaaaaaaa-0000-4000-8000-000000000003", vendor: "vendorB")
        let body = VendorMovementBatch(vendorId: "vendorA", entries: [.init(Self.first), .init(other)]).encoded()
        let decoded = try VendorMovementBatch.decode(body)
        #expect(decoded.entries.map(\.movement) == [Self.first])
        #expect(decoded.invalid.first?.poison.detail == #"movements[1]: vendorId: "vendorB" is not the batch's "vendorA""#)
    }

    @Test(arguments: [
        #"{"movements":[],"vendorId":"vendorA"}"#, #"{"movements":{},"vendorId":"vendorA"}"#, #"{"movements":[{}]}"#, "[1]", "not json",
    ])
    func aBodyThatIsNoBatchIsPoisonWhole(_ body: String) {
        #expect(throws: PoisonMessage.self) { try VendorMovementBatch.decode(Array(body.utf8)) }
    }

    @Test func theMessageIdDependsOnlyOnTheSetOfMovementIds() {
        let forward = VendorMovementBatch(vendorId: "vendorA", entries: [.init(Self.first), .init(Self.second)])
        let backward = VendorMovementBatch(vendorId: "vendorA", entries: [.init(Self.second, traceparent: Self.traceparent), .init(Self.first)])
        #expect(forward.messageId == backward.messageId)
        #expect(forward.messageId != VendorMovementBatch(vendorId: "vendorA", entries: [.init(Self.first), .init(Self.first)]).messageId)
        // A name-based (version 5, RFC 4122 variant) UUID.
        let text = UUIDText.string(forward.messageId)
        #expect(Array(text)[14] == "5" && "89ab".contains(Array(text)[19]))
        let message = forward.outboundMessage(queue: "q")
        #expect(message.messageId == text && message.type == VendorMovementBatch.messageType && message.routingKey == "q")
        #expect(message.correlationId == nil, "two orders: no correlation id")
    }

    @Test func aGroupOfOneIsTheSingleMessageAndOneOrderIsTheCorrelationId() {
        let one = VendorMovementBatch(vendorId: "vendorA", entries: [.init(Self.first, traceparent: Self.traceparent)]).outboundMessage(queue: "q")
        #expect(one == Self.first.outboundMessage(queue: "q"))
        let sameOrder = Self.movement("aaaaaaaa-0000-4000-8000-000000000004")
        let two = VendorMovementBatch(vendorId: "vendorA", entries: [.init(Self.first), .init(sameOrder)]).outboundMessage(queue: "q")
        #expect(two.correlationId == UUIDText.string(Self.orderA))
    }

    @Test func groupedIsOneBatchPerVendorInVendorOrderKeepingEntryOrder() {
        let b1 = Self.movement("bbbbbbbb-0000-4000-8000-000000000001", vendor: "vendorB")
        let b2 = Self.movement("bbbbbbbb-0000-4000-8000-000000000002", vendor: "vendorB", quantity: 9)
        let batches = VendorMovementBatch.grouped([.init(b2), .init(Self.first), .init(b1), .init(Self.second)])
        #expect(batches.map(\.vendorId) == ["vendorA", "vendorB"])
        #expect(batches.map { $0.entries.map(\.movement) } == [[Self.first, Self.second], [b2, b1]])
    }
}
