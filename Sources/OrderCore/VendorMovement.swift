import Foundation
import TextCodecs

/// The body of a message on `vendor_sync`: one stock movement to apply at one
/// vendor (AMQP `type` "vendor.movement.v1", `message_id` the movement id), and
/// the form of each entry of a ``VendorMovementBatch``. An
/// `allocate` takes the units from the vendor's stock, a `restock` gives them
/// back (a cancellation after the vendor was told, a return); the vendor
/// database records the movement id with the change, so each applies once.
public struct VendorMovement: Sendable, Hashable, Codable {
    public static let messageType = "vendor.movement.v1"

    /// The vendor-bound kinds of `stock_movements.kind` (hold and release stay local).
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        case allocate
        case restock
    }

    public let movementId: UUID
    public let kind: Kind
    public let orderId: UUID
    public let vendorId: String
    public let productId: String
    public let quantity: Int

    public init(movementId: UUID, kind: Kind = .allocate, orderId: UUID, vendorId: String, productId: String, quantity: Int) {
        self.movementId = movementId
        self.kind = kind
        self.orderId = orderId
        self.vendorId = vendorId
        self.productId = productId
        self.quantity = quantity
    }

    /// Codable's form, with the ids in lower case (see `OrderPlaced.encode(to:)`).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .kind)
        try container.encode(UUIDText.string(movementId), forKey: .movementId)
        try container.encode(UUIDText.string(orderId), forKey: .orderId)
        try container.encode(vendorId, forKey: .vendorId)
        try container.encode(productId, forKey: .productId)
        try container.encode(quantity, forKey: .quantity)
    }

    /// The same bytes as `MessageCoding.encoder` (sorted keys), written directly.
    public func encoded() -> [UInt8] {
        var writer = JSONWriter(capacity: 160 + vendorId.utf8.count + productId.utf8.count)
        write(to: &writer, traceparent: nil)
        return writer.bytes
    }

    /// Its JSON object (sorted keys), with the batch entry's `traceparent`
    /// (sorted between `quantity` and `vendorId`) when it has one.
    func write(to writer: inout JSONWriter, traceparent: String?) {
        writer.raw(#"{"kind":"#)
        writer.string(kind.rawValue)
        writer.raw(#","movementId":"#)
        writer.uuid(movementId)
        writer.raw(#","orderId":"#)
        writer.uuid(orderId)
        writer.raw(#","productId":"#)
        writer.string(productId)
        writer.raw(#","quantity":"#)
        writer.integer(quantity)
        if let traceparent {
            writer.raw(#","traceparent":"#)
            writer.string(traceparent)
        }
        writer.raw(#","vendorId":"#)
        writer.string(vendorId)
        writer.raw("}")
    }

    /// Decodes and validates a message body; every wrong field is named in the
    /// `PoisonMessage`'s detail. Unknown fields are ignored, so a
    /// producer may add fields before this consumer knows them.
    public static func decode(_ body: [UInt8]) throws(PoisonMessage) -> VendorMovement {
        var fields = try MessageFields(body)
        return try decode(&fields)
    }

    /// A movement from its fields (a message body's, or a batch entry's).
    static func decode(_ fields: inout MessageFields) throws(PoisonMessage) -> VendorMovement {
        // "allocationId" without a kind: a vendor.allocation.v1 message published
        // before movements had kinds (still in a queue, a DLQ or an export).
        let legacy = fields["movementId"] == nil && fields["allocationId"] != nil
        let movementId = fields.uuid(legacy ? "allocationId" : "movementId")
        var kind = Kind.allocate
        switch fields["kind"] {
        case nil: break
        case .string(let text)?:
            if let known = Kind(rawValue: text) { kind = known } else { fields.note("kind: must be one of \(Kind.allCases.map(\.rawValue).joined(separator: ", ")), not \"\(text)\"") }
        case let other?: fields.note("kind: must be a string, not \(other.typeName)")
        }
        let orderId = fields.uuid("orderId")
        let vendorId = fields.string("vendorId")
        let productId = fields.string("productId")
        var quantity: Int?
        switch fields["quantity"] {
        case .integer(let number)?: quantity = Int(clamping: number)
        case .number?: fields.note("quantity: must be an integer from 1 to 1000000")
        case nil: fields.note("quantity: is required")
        case let other?: fields.note("quantity: must be an integer, not \(other.typeName)")
        }
        guard fields.problems.isEmpty, let movementId, let orderId, let vendorId, let productId, let quantity else {
            throw fields.poison
        }
        guard OrderLimits.quantityRange.contains(quantity) else {
            throw PoisonMessage(reason: .invalid, detail: "quantity: must be an integer from 1 to 1000000")
        }
        guard OrderLimits.isValidProductId(productId), !vendorId.isEmpty else {
            throw PoisonMessage(reason: .invalid, detail: "productId or vendorId is not valid")
        }
        return VendorMovement(movementId: movementId, kind: kind, orderId: orderId, vendorId: vendorId, productId: productId, quantity: quantity)
    }
}

/// `stock_movements.kind`: every change of local stock is one of these
/// (DESIGN.md "Stock movements").
public enum StockMovementKind: String, Sendable, Hashable, CaseIterable {
    /// An order takes stock; the vendor is told.
    case allocate
    /// A reservation holds stock; local only.
    case hold
    /// A hold ends; local only.
    case release
    /// Stock comes back (a cancel after the vendor was told, a return); the vendor is told.
    case restock

    /// Whether it lowers local available stock (allocate, hold) or raises it (release, restock).
    public var takesStock: Bool { self == .allocate || self == .hold }

    /// The vendor_sync kind of a movement the vendor must apply; nil for the local kinds.
    public var vendorKind: VendorMovement.Kind? {
        switch self {
        case .allocate: .allocate
        case .restock: .restock
        case .hold, .release: nil
        }
    }
}
