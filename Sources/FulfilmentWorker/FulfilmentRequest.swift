import Foundation
import TextCodecs

/// What the warehouse is asked to ship (seed 003's `FulfillmentRequest`):
/// `{"orderId": "…", "lineItems": [{"sku": "…", "quantity": n}]}`.
public struct FulfilmentRequest: Sendable, Hashable {
    public struct LineItem: Sendable, Hashable {
        public let sku: String
        public let quantity: Int

        public init(sku: String, quantity: Int) {
            self.sku = sku
            self.quantity = quantity
        }
    }

    public let orderId: UUID
    public let lineItems: [LineItem]

    public init(orderId: UUID, lineItems: [LineItem]) {
        self.orderId = orderId
        self.lineItems = lineItems
    }

    /// The JSON body, keys in the seed's order.
    public var body: [UInt8] {
        var writer = JSONWriter(capacity: 64 + lineItems.count * 48)
        writer.raw(#"{"orderId":"#)
        writer.uuid(orderId)
        writer.raw(#","lineItems":["#)
        for (index, item) in lineItems.enumerated() {
            writer.raw(index == 0 ? #"{"sku":"# : #",{"sku":"#)
            writer.string(item.sku)
            writer.raw(#","quantity":"#)
            writer.integer(item.quantity)
            writer.raw("}")
        }
        writer.raw("]}")
        return writer.bytes
    }
}
