import Foundation
import Testing
@testable import OrderCore

@Suite struct OrderRequestTests {
    private func fields(_ json: String) -> [String] {
        switch OrderRequest.parse(Array(json.utf8)) {
        case .success: []
        case .failure(let failure): failure.errors.map(\.field)
        }
    }

    @Test func singleLineAndItemsForms() throws {
        #expect(try OrderRequest.parse(Array(#"{"productId":"p1","quantity":2}"#.utf8)).get().lines == [OrderLine(productId: "p1", quantity: 2)])
        let lines = try OrderRequest.parse(Array(#"{"items":[{"productId":"a.b_c-9","quantity":1},{"productId":"p2","quantity":1000000}]}"#.utf8)).get().lines
        #expect(lines.map(\.quantity) == [1, 1_000_000])
    }

    /// The optional checkout hold and payment: each validated, named when wrong,
    /// and not taken together (a consumed hold confirms at once; a payment must hold).
    @Test func reservationIdAndPayment() throws {
        let hold = UUID()
        let held = try OrderRequest.parse(Array(#"{"productId":"p1","quantity":1,"reservationId":"\#(hold.uuidString)"}"#.utf8)).get()
        #expect(held.reservationId == hold && held.payment == nil)
        let paying = try OrderRequest.parse(Array(#"{"items":[{"productId":"p1","quantity":1}],"payment":{"method":"pm_card_visa"}}"#.utf8)).get()
        #expect(paying.payment == PaymentRequest(method: "pm_card_visa") && paying.reservationId == nil)
        #expect(fields(#"{"productId":"p1","quantity":1,"reservationId":"checkout-42"}"#) == ["reservationId"])
        #expect(fields(#"{"productId":"p1","quantity":1,"payment":{"method":"4242 4242"}}"#) == ["payment.method"])
        #expect(fields(#"{"productId":"p1","quantity":1,"payment":{"method":"pm_x","card":"4242"}}"#) == ["payment.card"])
        #expect(fields(#"{"productId":"p1","quantity":1,"payment":"pm_card_visa"}"#) == ["payment"])
        #expect(fields(#"{"productId":"p1","quantity":1,"reservationId":"\#(hold.uuidString)","payment":{"method":"pm_card_visa"}}"#) == ["payment"])
    }

    @Test(arguments: [
        (#"{"productId":"p1","quantity":0}"#, ["quantity"]),
        (#"{"productId":"p1","quantity":-3}"#, ["quantity"]),
        (#"{"productId":"p1","quantity":1000001}"#, ["quantity"]),
        (#"{"productId":"p1","quantity":99999999999999999999999}"#, ["quantity"]),
        (#"{"productId":"p1","quantity":2.5}"#, ["quantity"]),
        (#"{"productId":"p1","quantity":"2"}"#, ["quantity"]),
        (#"{"productId":"p1","quantity":true}"#, ["quantity"]),
        (#"{"productId":7,"quantity":1}"#, ["productId"]),
        (#"{"productId":"","quantity":1}"#, ["productId"]),
        (#"{"productId":"bad id!","quantity":1}"#, ["productId"]),
        (#"{"productId":"p1"}"#, ["quantity"]),
        (#"{"productId":"p1","quantity":1,"color":"red"}"#, ["color"]),
        (#"{"items":[]}"#, ["items"]),
        (#"{"items":{}}"#, ["items"]),
        (#"{"items":[{"productId":"p1","quantity":0},{"quantity":1},3]}"#, ["items[0].quantity", "items[1].productId", "items[2]"]),
        (#"{"items":[{"productId":"p1","quantity":1,"x":1}]}"#, ["items[0].x"]),
        (#"{"items":[{"productId":"p1","quantity":1}],"productId":"p1"}"#, ["items"]),
        (#"{}"#, ["items"]),
        (#"[1,2]"#, ["body"]),
        (#"{"productId":"p3","productId":"p1","quantity":1}"#, ["productId"]),
        (#"{"items":[{"productId":"p1","quantity":1,"quantity":5}]}"#, ["items[0].quantity"]),
        (#"not json"#, ["body"]),
        (#""#, ["body"]),
    ])
    func invalidBodiesNameEveryBadField(json: String, expected: [String]) {
        #expect(fields(json) == expected)
    }

    @Test func tooManyLines() {
        let items = (0...100).map { _ in #"{"productId":"p1","quantity":1}"# }.joined(separator: ",")
        #expect(fields(#"{"items":[\#(items)]}"#) == ["items"])
    }

    @Test func invalidUTF8() {
        let result = OrderRequest.parse([0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x7D])
        #expect((try? result.get()) == nil)
    }
}

@Suite struct AllocationPolicyTests {
    let stock = [
        VendorStock(vendorId: "vendorA", productId: "p1", stock: 10),
        VendorStock(vendorId: "vendorA", productId: "p2", stock: 15),
        VendorStock(vendorId: "vendorB", productId: "p2", stock: 5),
        VendorStock(vendorId: "vendorB", productId: "p3", stock: 20),
    ]

    @Test func mostAvailableFirstAndSplitting() {
        let decision = AllocationPolicy.decide(lines: [OrderLine(productId: "p2", quantity: 18)], stock: stock)
        #expect(decision == .allocate([
            PlannedAllocation(lineNumber: 1, vendorId: "vendorA", productId: "p2", quantity: 15),
            PlannedAllocation(lineNumber: 1, vendorId: "vendorB", productId: "p2", quantity: 3),
        ]))
    }

    @Test func smallLineGoesToTheLargestStock() {
        let decision = AllocationPolicy.decide(lines: [OrderLine(productId: "p2", quantity: 2)], stock: stock)
        #expect(decision == .allocate([PlannedAllocation(lineNumber: 1, vendorId: "vendorA", productId: "p2", quantity: 2)]))
    }

    @Test func allOrNothingAcrossLines() {
        let decision = AllocationPolicy.decide(lines: [OrderLine(productId: "p1", quantity: 1), OrderLine(productId: "p3", quantity: 21)], stock: stock)
        guard case .reject(let reason) = decision else { Issue.record("expected a rejection"); return }
        #expect(reason.contains("p3"))
    }

    @Test func repeatedProductLinesShareTheStock() {
        let lines = [OrderLine(productId: "p1", quantity: 6), OrderLine(productId: "p1", quantity: 5)]
        guard case .reject = AllocationPolicy.decide(lines: lines, stock: stock) else { Issue.record("11 of 10 must be rejected"); return }
        let ok = AllocationPolicy.decide(lines: [OrderLine(productId: "p1", quantity: 6), OrderLine(productId: "p1", quantity: 4)], stock: stock)
        #expect(ok == .allocate([
            PlannedAllocation(lineNumber: 1, vendorId: "vendorA", productId: "p1", quantity: 6),
            PlannedAllocation(lineNumber: 2, vendorId: "vendorA", productId: "p1", quantity: 4),
        ]))
    }

    @Test func unknownProductIsRejected() {
        #expect(AllocationPolicy.decide(lines: [OrderLine(productId: "nope", quantity: 1)], stock: stock) == .reject(reason: "unknown product nope"))
    }
}

@Suite struct MessageContractTests {
    @Test func orderPlacedRoundTrips() throws {
        let message = OrderPlaced(orderId: UUID(), lines: [OrderLine(productId: "p1", quantity: 2)], idempotencyKey: "k", acceptedAt: Date(timeIntervalSince1970: 1_700_000_000.123))
        let decoded = try OrderPlaced.decode(message.encoded())
        #expect(decoded.orderId == message.orderId)
        #expect(decoded.lines == message.lines)
        #expect(abs(decoded.acceptedAt.timeIntervalSince(message.acceptedAt)) < 0.001)
    }

    @Test(arguments: [
        ("not json", PoisonMessage.Reason.undecodable),
        (#"{"orderId":"x"}"#, .invalid),
        (#"{"orderId":"6f1c2b8e-3d4a-4e5f-9a7b-0c1d2e3f4a5b","lines":[{"productId":"p1","quantity":"2"}],"acceptedAt":"2026-01-01T00:00:00Z"}"#, .invalid),
        (#"{"orderId":"6f1c2b8e-3d4a-4e5f-9a7b-0c1d2e3f4a5b","lines":[],"acceptedAt":"2026-01-01T00:00:00Z"}"#, .invalid),
        (#"[]"#, .invalid),
        ("\u{0}\u{1}", .undecodable),
    ])
    func poison(body: String, reason: PoisonMessage.Reason) {
        #expect(throws: PoisonMessage.self) { try OrderPlaced.decode(Array(body.utf8)) }
        do { _ = try OrderPlaced.decode(Array(body.utf8)) } catch { #expect(error.reason == reason) }
    }

    @Test func validMinimalMessage() throws {
        let body = #"{"orderId":"6f1c2b8e-3d4a-4e5f-9a7b-0c1d2e3f4a5b","lines":[{"productId":"p1","quantity":2}],"acceptedAt":"2026-01-01T00:00:00Z"}"#
        #expect(try OrderPlaced.decode(Array(body.utf8)).lines.count == 1)
    }

    @Test func vendorAllocationRoundTripsAndRejectsGarbage() throws {
        let message = VendorMovement(movementId: UUID(), orderId: UUID(), vendorId: "vendorA", productId: "p1", quantity: 3)
        #expect(try VendorMovement.decode(message.encoded()) == message)
        #expect(throws: PoisonMessage.self) { try VendorMovement.decode(Array(#"{"movementId":1}"#.utf8)) }
    }
}

@Suite struct OrderIDAndRetryTests {
    static let orderIDs = try! OrderID(secret: "test-order-id-secret-5f1d9c0b7e")

    /// Ids already handed out must stay the same for the same key and secret
    /// (the vectors agree with Python's `hmac`, docs/order-ids.md's recipe).
    @Test func keyedIdsMatchFixedVectors() {
        #expect(Self.orderIDs.make(idempotencyKey: "key-1") == UUID(uuidString: "aa62ce82-9860-890a-8612-41f2f0d7c74b"))
        #expect(Self.orderIDs.make(idempotencyKey: "order-42") == UUID(uuidString: "b0e9dcc0-37a7-8cdb-95ca-287f2d842679"))
        #expect(Self.orderIDs.make(idempotencyKey: "Ünïcode-键") == UUID(uuidString: "2782c777-f229-897d-b639-e24e7c7db72d"))
    }

    @Test func sameKeySameIdDifferentKeyDifferentId() {
        let a = Self.orderIDs.make(idempotencyKey: "key-1")
        #expect(a == Self.orderIDs.make(idempotencyKey: "key-1"))
        #expect(a != Self.orderIDs.make(idempotencyKey: "key-2"))
        #expect(a.uuidString.dropFirst(14).first == "8", "version 8")
    }

    @Test func retryRouting() {
        let policy = RetryPolicy(maxRetries: 3)
        #expect(policy.route(retriesSoFar: 0, transient: true) == .retry(attempt: 1))
        #expect(policy.route(retriesSoFar: 2, transient: true) == .retry(attempt: 3))
        #expect(policy.route(retriesSoFar: 3, transient: true) == .deadLetter)
        #expect(policy.route(retriesSoFar: 0, transient: false) == .deadLetter)
    }
}
