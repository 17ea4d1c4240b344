import Foundation
import TextCodecs

/// The body of a message on `vendor_sync`: one allocation to apply at one vendor
/// (AMQP `type` "vendor.allocation.v1", `message_id` the allocation id).
public struct VendorAllocation: Sendable, Hashable, Codable {
    public static let messageType = "vendor.allocation.v1"

    public let allocationId: UUID
    public let orderId: UUID
    public let vendorId: String
    public let productId: String
    public let quantity: Int

    public init(allocationId: UUID, orderId: UUID, vendorId: String, productId: String, quantity: Int) {
        self.allocationId = allocationId
        self.orderId = orderId
        self.vendorId = vendorId
        self.productId = productId
        self.quantity = quantity
    }

    /// Codable's form, with the ids in lower case (see `OrderPlaced.encode(to:)`).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(UUIDText.string(allocationId), forKey: .allocationId)
        try container.encode(UUIDText.string(orderId), forKey: .orderId)
        try container.encode(vendorId, forKey: .vendorId)
        try container.encode(productId, forKey: .productId)
        try container.encode(quantity, forKey: .quantity)
    }

    /// The same bytes as `MessageCoding.encoder` (sorted keys), written directly.
    public func encoded() -> [UInt8] {
        var writer = JSONWriter(capacity: 160 + vendorId.utf8.count + productId.utf8.count)
        writer.raw(#"{"allocationId":"#)
        writer.uuid(allocationId)
        writer.raw(#","orderId":"#)
        writer.uuid(orderId)
        writer.raw(#","productId":"#)
        writer.string(productId)
        writer.raw(#","quantity":"#)
        writer.integer(quantity)
        writer.raw(#","vendorId":"#)
        writer.string(vendorId)
        writer.raw("}")
        return writer.bytes
    }

    /// Decodes and validates a message body; every wrong field is named in the
    /// `PoisonMessage`'s detail. Unknown fields are ignored, so a
    /// producer may add fields before this consumer knows them.
    public static func decode(_ body: [UInt8]) throws(PoisonMessage) -> VendorAllocation {
        var fields = try MessageFields(body)
        let allocationId = fields.uuid("allocationId")
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
        guard fields.problems.isEmpty, let allocationId, let orderId, let vendorId, let productId, let quantity else {
            throw fields.poison
        }
        guard OrderLimits.quantityRange.contains(quantity) else {
            throw PoisonMessage(reason: .invalid, detail: "quantity: must be an integer from 1 to 1000000")
        }
        guard OrderLimits.isValidProductId(productId), !vendorId.isEmpty else {
            throw PoisonMessage(reason: .invalid, detail: "productId or vendorId is not valid")
        }
        return VendorAllocation(allocationId: allocationId, orderId: orderId, vendorId: vendorId, productId: productId, quantity: quantity)
    }
}
