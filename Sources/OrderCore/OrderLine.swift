import Foundation

/// One product and how many of it.
public struct OrderLine: Sendable, Hashable, Codable {
    public let productId: String
    public let quantity: Int

    public init(productId: String, quantity: Int) {
        self.productId = productId
        self.quantity = quantity
    }
}
