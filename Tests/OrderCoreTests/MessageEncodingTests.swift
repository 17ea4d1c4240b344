import Foundation
import Testing
@testable import OrderCore
import TextCodecs

@Suite struct MessageEncodingTests {
    /// JSONEncoder with Foundation's own ISO 8601 date formatting: the oracle
    /// for the hand-written encoders and `TimestampText.message`.
    private static let foundationEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(MessageCoding.foundationFormatDate(date))
        }
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// `foundationEncoder`'s bytes: the messages' Codable form writes the ids in lower case too.
    private static func foundationBytes(_ value: some Encodable) throws -> [UInt8] {
        Array(try foundationEncoder.encode(value))
    }

    private static let awkward = "say \"hi\" \\ back\\slash /slash é€😀 \u{0}\u{1}\u{8}\u{9}\u{A}\u{B}\u{C}\u{D}\u{1B}\u{1F} \u{7F}\u{80}\u{2028}"

    private static func date(_ text: String) -> Date { MessageCoding.parseDate(text)! }

    static let orders = [
        OrderPlaced(orderId: UUID(uuidString: "6f1c2b8e-3d4a-4e5f-9a7b-0c1d2e3f4a5b")!, lines: [OrderLine(productId: "p1", quantity: 2)],
                    idempotencyKey: nil, acceptedAt: date("2026-11-21T03:04:05.123Z")),
        OrderPlaced(orderId: UUID(), lines: [OrderLine(productId: "a.b_c-9", quantity: 1_000_000), OrderLine(productId: "p2", quantity: 1)],
                    idempotencyKey: "key-1", acceptedAt: date("1969-07-20T20:17:40.000Z")),
        OrderPlaced(orderId: UUID(), lines: [OrderLine(productId: "p1", quantity: 3)],
                    idempotencyKey: awkward, acceptedAt: date("2000-02-29T23:59:59.999Z")),
        OrderPlaced(orderId: UUID(), lines: (1...100).map { OrderLine(productId: "p\($0)", quantity: $0) },
                    idempotencyKey: "", acceptedAt: date("1600-01-01T00:00:00.001Z")),
    ]

    @Test(arguments: orders)
    func orderPlacedBytesAreJSONEncoders(order: OrderPlaced) throws {
        #expect(order.encoded() == (try Self.foundationBytes(order)))
        #expect(order.encoded() == Array(try MessageCoding.encoder.encode(order)))
    }

    @Test(arguments: orders)
    func orderPlacedRoundTrips(order: OrderPlaced) throws {
        #expect(try OrderPlaced.decode(order.encoded()) == order)
    }

    @Test func encodingValuesDecodeCannotAccept() throws {
        // encoded() takes any value, as JSONEncoder did: no lines, odd quantities,
        // dates Foundation still formats (year 1000, year 12000), any product id.
        let odd = [
            OrderPlaced(orderId: UUID(), lines: [], idempotencyKey: nil, acceptedAt: Date(timeIntervalSince1970: -30_610_224_000)),
            OrderPlaced(orderId: UUID(), lines: [OrderLine(productId: Self.awkward, quantity: .min), OrderLine(productId: "", quantity: .max),
                                                 OrderLine(productId: "x", quantity: 0), OrderLine(productId: "y", quantity: -7)],
                        idempotencyKey: "k", acceptedAt: Date(timeIntervalSince1970: 316_516_000_000)),
            OrderPlaced(orderId: UUID(), lines: [OrderLine(productId: "p1", quantity: 1)], idempotencyKey: nil, acceptedAt: Date(timeIntervalSince1970: 1_700_000_000.123_456)),
        ]
        for order in odd {
            #expect(order.encoded() == (try Self.foundationBytes(order)))
        }
    }

    @Test func everyASCIICharacterIsEscapedAsJSONEncoderDoes() throws {
        let everything = String(decoding: (0...0x7F).map { UInt8($0) }, as: UTF8.self) + "é€😀\u{FEFF}"
        let allocation = VendorMovement(movementId: UUID(), orderId: UUID(), vendorId: everything, productId: "/\\\"", quantity: 5)
        #expect(allocation.encoded() == (try Self.foundationBytes(allocation)))
        #expect(try JSONValue.parse(allocation.encoded()) == .object([
            "kind": .string("allocate"), "movementId": .string(allocation.movementId.uuidString.lowercased()), "orderId": .string(allocation.orderId.uuidString.lowercased()),
            "vendorId": .string(everything), "productId": .string("/\\\""), "quantity": .integer(5),
        ]))
    }

    @Test func vendorAllocationBytesAndRoundTrip() throws {
        let allocations = [
            VendorMovement(movementId: UUID(uuidString: "00000000-0000-0000-0000-000000000000")!, orderId: UUID(), vendorId: "vendorA", productId: "p1", quantity: 1),
            VendorMovement(movementId: UUID(), orderId: UUID(uuidString: "FFFFFFFF-ABCD-EF01-2345-6789abcdef01")!, vendorId: "vendor \"B\"", productId: "a.b_c-9", quantity: 1_000_000),
        ]
        for allocation in allocations {
            #expect(allocation.encoded() == (try Self.foundationBytes(allocation)))
            #expect(try VendorMovement.decode(allocation.encoded()) == allocation)
        }
        #expect(String(decoding: allocations[0].encoded(), as: UTF8.self)
            == #"{"kind":"allocate","movementId":"00000000-0000-0000-0000-000000000000","orderId":"\#(allocations[0].orderId.uuidString.lowercased())","productId":"p1","quantity":1,"vendorId":"vendorA"}"#)
        let restock = VendorMovement(movementId: UUID(), kind: .restock, orderId: UUID(), vendorId: "vendorB", productId: "p2", quantity: 3)
        #expect(restock.encoded() == (try Self.foundationBytes(restock)))
        #expect(try VendorMovement.decode(restock.encoded()) == restock)
    }

    /// A vendor.allocation.v1 body (before movements had kinds) still decodes, as an allocation.
    @Test func aLegacyAllocationBodyDecodesAsAnAllocation() throws {
        let order = UUID(), movement = UUID()
        let legacy = #"{"allocationId":"\#(UUIDText.string(movement))","orderId":"\#(UUIDText.string(order))","productId":"p1","quantity":2,"vendorId":"vendorA"}"#
        #expect(try VendorMovement.decode(Array(legacy.utf8))
            == VendorMovement(movementId: movement, kind: .allocate, orderId: order, vendorId: "vendorA", productId: "p1", quantity: 2))
        let wrongKind = #"{"kind":"hold","movementId":"\#(UUIDText.string(movement))","orderId":"\#(UUIDText.string(order))","productId":"p1","quantity":2,"vendorId":"vendorA"}"#
        #expect(throws: PoisonMessage.self) { try VendorMovement.decode(Array(wrongKind.utf8)) }
    }

    @Test func orderPlacedText() {
        let order = Self.orders[0]
        #expect(String(decoding: order.encoded(), as: UTF8.self)
            == #"{"acceptedAt":"2026-11-21T03:04:05.123Z","lines":[{"productId":"p1","quantity":2}],"orderId":"6f1c2b8e-3d4a-4e5f-9a7b-0c1d2e3f4a5b"}"#)
    }

    /// Ids are written in lower case; bodies written with upper-case ids (as
    /// `uuidString` writes them) still decode to the same message.
    @Test func upperCaseIdsDecode() throws {
        let order = Self.orders[0]
        let upper = #"{"acceptedAt":"2026-11-21T03:04:05.123Z","lines":[{"productId":"p1","quantity":2}],"orderId":"6F1C2B8E-3D4A-4E5F-9A7B-0C1D2E3F4A5B"}"#
        #expect(try OrderPlaced.decode(Array(upper.utf8)) == order)
        let allocation = VendorMovement(movementId: UUID(), orderId: order.orderId, vendorId: "v", productId: "p1", quantity: 1)
        let upperAllocation = String(decoding: allocation.encoded(), as: UTF8.self)
            .replacingOccurrences(of: UUIDText.string(allocation.movementId), with: allocation.movementId.uuidString)
            .replacingOccurrences(of: UUIDText.string(allocation.orderId), with: allocation.orderId.uuidString)
        #expect(upperAllocation != String(decoding: allocation.encoded(), as: UTF8.self))
        #expect(try VendorMovement.decode(Array(upperAllocation.utf8)) == allocation)
    }

    private static let ids = #""movementId":"6f1c2b8e-3d4a-4e5f-9a7b-0c1d2e3f4a5b","orderId":"6F1C2B8E-3D4A-4E5F-9A7B-0C1D2E3F4A5C""#

    @Test(arguments: [
        ("not json", PoisonMessage(reason: .undecodable, detail: "body is not JSON")),
        ("", PoisonMessage(reason: .undecodable, detail: "body is not JSON")),
        (#"{"movementId":1"#, PoisonMessage(reason: .undecodable, detail: "body is not JSON")),
        ("[]", PoisonMessage(reason: .invalid, detail: "body must be a JSON object, not array")),
        (#"{"movementId":1}"#, PoisonMessage(reason: .invalid, detail:
            "movementId: must be a string, not number; orderId: is required; vendorId: is required; productId: is required; quantity: is required")),
        (#"{\#(ids),"vendorId":"v","productId":"p1"}"#, PoisonMessage(reason: .invalid, detail: "quantity: is required")),
        (#"{"movementId":"x","orderId":"6F1C2B8E-3D4A-4E5F-9A7B-0C1D2E3F4A5C","vendorId":"v","productId":"p1","quantity":1}"#,
         PoisonMessage(reason: .invalid, detail: "movementId: not a UUID")),
        (#"{\#(ids),"vendorId":null,"productId":"p1","quantity":"1"}"#,
         PoisonMessage(reason: .invalid, detail: "vendorId: must be a string, not null; quantity: must be an integer, not string")),
        (#"{\#(ids),"vendorId":"v","productId":"p1","quantity":2.5}"#, PoisonMessage(reason: .invalid, detail: "quantity: must be an integer from 1 to 1000000")),
        (#"{\#(ids),"vendorId":"v","productId":"p1","quantity":0}"#, PoisonMessage(reason: .invalid, detail: "quantity: must be an integer from 1 to 1000000")),
        (#"{\#(ids),"vendorId":"v","productId":"p1","quantity":9223372036854775807}"#, PoisonMessage(reason: .invalid, detail: "quantity: must be an integer from 1 to 1000000")),
        (#"{\#(ids),"vendorId":"v","productId":"bad id","quantity":1}"#, PoisonMessage(reason: .invalid, detail: "productId or vendorId is not valid")),
        (#"{\#(ids),"vendorId":"","productId":"p1","quantity":1}"#, PoisonMessage(reason: .invalid, detail: "productId or vendorId is not valid")),
    ])
    func vendorAllocationPoison(body: String, expected: PoisonMessage) {
        #expect(throws: expected) { try VendorMovement.decode(Array(body.utf8)) }
    }

    @Test func vendorAllocationIgnoresUnknownFieldsAndAcceptsIntegralNumbers() throws {
        let body = #"{\#(Self.ids),"vendorId":"v","productId":"p1","quantity":2.0,"note":{"x":[1]}}"#
        let allocation = try VendorMovement.decode(Array(body.utf8))
        #expect(allocation.quantity == 2)
        #expect(allocation.movementId.uuidString == "6F1C2B8E-3D4A-4E5F-9A7B-0C1D2E3F4A5B")
    }

    @Test func orderPlacedNullKeyAndWrongTypes() throws {
        let base = #""orderId":"6f1c2b8e-3d4a-4e5f-9a7b-0c1d2e3f4a5b","lines":[{"productId":"p1","quantity":2}],"acceptedAt":"2026-01-01T00:00:00Z""#
        #expect(try OrderPlaced.decode(Array(#"{\#(base),"idempotencyKey":null}"#.utf8)).idempotencyKey == nil)
        #expect(throws: PoisonMessage(reason: .invalid, detail: "idempotencyKey: must be a string, not number")) {
            try OrderPlaced.decode(Array(#"{\#(base),"idempotencyKey":5}"#.utf8))
        }
        #expect(throws: PoisonMessage(reason: .invalid, detail: "lines[0].quantity: must be an integer from 1 to 1000000; acceptedAt: not an ISO 8601 date")) {
            try OrderPlaced.decode(Array(#"{"orderId":"6f1c2b8e-3d4a-4e5f-9a7b-0c1d2e3f4a5b","lines":[{"productId":"p1","quantity":0}],"acceptedAt":"yesterday"}"#.utf8))
        }
        #expect(throws: PoisonMessage(reason: .undecodable, detail: "body is not JSON")) { try OrderPlaced.decode([]) }
        #expect(throws: PoisonMessage(reason: .invalid, detail: "orderId: appears more than once; send each field once")) {
            try OrderPlaced.decode(Array(#"{"orderId":"6f1c2b8e-3d4a-4e5f-9a7b-0c1d2e3f4a5b","orderId":"6f1c2b8e-3d4a-4e5f-9a7b-0c1d2e3f4a5c","lines":[]}"#.utf8))
        }
        #expect(throws: PoisonMessage(reason: .undecodable, detail: "body is not JSON")) { try OrderPlaced.decode(Array(#"{"orderId":"\#u{1}"}"#.utf8)) }
    }

    /// The bodies OrderWorkerTests and DeadLetterInspectionTests publish keep
    /// the reasons those tests count on (3 undecodable, 3 invalid).
    @Test func poisonFixturesKeepTheirReasons() {
        let bodies: [([UInt8], PoisonMessage.Reason)] = [
            (Array("this is not json".utf8), .undecodable),
            ([0, 0xFF, 0xFE, 0x00, 0x01], .undecodable),
            ([], .undecodable),
            (Array(#"{"orderId":"6f1c2b8e-3d4a-4e5f-9a7b-0c1d2e3f4a5b"}"#.utf8), .invalid),
            (Array(#"{"orderId":42,"lines":"p1","acceptedAt":true}"#.utf8), .invalid),
            (Array(#"{"orderId":"6f1c2b8e-3d4a-4e5f-9a7b-0c1d2e3f4a5c","lines":[{"productId":"p1","quantity":-4}],"acceptedAt":"2026-01-01T00:00:00Z"}"#.utf8), .invalid),
        ]
        for (body, reason) in bodies {
            #expect(throws: PoisonMessage.self) { try OrderPlaced.decode(body) }
            do { _ = try OrderPlaced.decode(body) } catch { #expect(error.reason == reason) }
        }
    }

    @Test func orderRequestErrorTexts() {
        func messages(_ bytes: [UInt8]) -> [String] {
            switch OrderRequest.parse(bytes) {
            case .success: []
            case .failure(let failure): failure.errors.map(\.description)
            }
        }
        #expect(messages([]) == ["body: is empty; send a JSON object"])
        #expect(messages(Array("nope".utf8)) == ["body: is not valid JSON"])
        #expect(messages(Array(" ".utf8)) == ["body: is not valid JSON"])
        #expect(messages([0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x7D]) == ["body: is not valid UTF-8"])
        // Invalid UTF-8 after a syntax error is still reported as UTF-8.
        #expect(messages([0x78, 0xFF]) == ["body: is not valid UTF-8"])
        #expect(messages(Array(#"{"productId":"p1","quantity":2"#.utf8)) == ["body: is not valid JSON"])
        #expect(messages(Array(#"{"productId":"é","quantity":1e400}"#.utf8)) == ["body: is not valid JSON"])
        #expect(messages(Array("5".utf8)) == ["body: must be a JSON object, not number"])
        #expect(messages(Array(#"{"productId":"p1","quantity":2.0}"#.utf8)) == [])
        // A field sent twice is refused as such, whichever value would be valid.
        #expect(messages(Array(#"{"productId":"p1","quantity":1,"quantity":0}"#.utf8)) == ["quantity: appears more than once; send each field once"])
        #expect(messages(Array(#"{"productId":"p1","quantity":0,"quantity":1}"#.utf8)) == ["quantity: appears more than once; send each field once"])
    }
}
