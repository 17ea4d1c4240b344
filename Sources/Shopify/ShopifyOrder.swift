import Foundation
import OrderCore

/// The fields of a Shopify order (the `orders/create` and `orders/cancelled`
/// webhook body, and an entry of the Admin API's order list) that the system
/// uses: seed 003's `ShopifyOrderWebhookDTO`. Customer and address data are
/// deliberately not read.
public struct ShopifyOrder: Sendable, Hashable {
    public struct LineItem: Sendable, Hashable {
        /// nil: Shopify sends `null` for a product without a SKU.
        public let sku: String?
        public let quantity: Int
        /// Shopify's decimal string, kept as sent (the shop's price, not ours).
        public let price: String?
    }

    /// Shopify's numeric order id, as text (it exceeds 2^53 in practice).
    public let id: String
    /// "#1001": what the shop's customers see.
    public let name: String?
    public let createdAt: Date?
    public let currency: String?
    public let financialStatus: String?
    public let fulfillmentStatus: String?
    public let totalPrice: String?
    public let locationId: Int64?
    public let lineItems: [LineItem]
    /// Set on `orders/cancelled` (and on a cancelled order in a listing).
    public let cancelledAt: Date?
    public let cancelReason: String?

    public static let channel = "shopify"

    /// Why a body is not a usable Shopify order (what a dead letter records).
    public struct Malformed: Error, Sendable, Hashable, CustomStringConvertible {
        public let problems: [String]
        public var description: String { "not a usable Shopify order: " + problems.joined(separator: "; ") }
    }

    /// Reads a webhook body.
    public static func parse(_ body: [UInt8]) throws(Malformed) -> ShopifyOrder {
        let value: JSONValue
        do {
            value = try JSONValue.parse(body)
        } catch {
            throw Malformed(problems: ["\(error)"])
        }
        return try parse(value)
    }

    /// Reads one order object (a webhook body, or an entry of `orders.json`).
    public static func parse(_ value: JSONValue) throws(Malformed) -> ShopifyOrder {
        guard case .object(let fields) = value else { throw Malformed(problems: ["the body is \(value.typeName), not an object"]) }
        var problems: [String] = []
        func text(_ key: String) -> String? {
            switch fields[key] {
            case .string(let text)?: return text
            case nil, .null?: return nil
            case let other?:
                problems.append("\(key): must be a string, not \(other.typeName)")
                return nil
            }
        }
        func date(_ key: String) -> Date? {
            guard let text = text(key) else { return nil }
            guard let date = MessageCoding.parseDate(text) else {
                problems.append("\(key): not an ISO 8601 date")
                return nil
            }
            return date
        }
        var id: String?
        switch fields["id"] {
        case .integer(let number)? where number > 0: id = String(number)
        case .string(let digits)? where !digits.isEmpty && digits.utf8.count <= 20 && digits.utf8.allSatisfy({ (48...57).contains($0) }): id = digits
        case nil, .null?: problems.append("id: is required")
        case let other?: problems.append("id: must be a positive integer, not \(other.typeName)")
        }
        var locationId: Int64?
        switch fields["location_id"] {
        case .integer(let number)?: locationId = number
        case nil, .null?: break
        case let other?: problems.append("location_id: must be an integer, not \(other.typeName)")
        }
        var items: [LineItem] = []
        switch fields["line_items"] {
        case .array(let entries)?:
            for (index, entry) in entries.enumerated() {
                guard case .object(let item) = entry else {
                    problems.append("line_items[\(index)]: must be an object, not \(entry.typeName)")
                    continue
                }
                var sku: String?
                switch item["sku"] {
                case .string(let text)? where !text.isEmpty: sku = text
                case .string?, nil, .null?: break
                case let other?: problems.append("line_items[\(index)].sku: must be a string, not \(other.typeName)")
                }
                var price: String?
                switch item["price"] {
                case .string(let text)?: price = text
                case nil, .null?: break
                case let other?: problems.append("line_items[\(index)].price: must be a string, not \(other.typeName)")
                }
                guard case .integer(let quantity)? = item["quantity"], quantity >= 1, quantity <= Int64(OrderLimits.quantityRange.upperBound) else {
                    problems.append("line_items[\(index)].quantity: must be an integer in \(OrderLimits.quantityRange)")
                    continue
                }
                items.append(LineItem(sku: sku, quantity: Int(quantity), price: price))
            }
        case nil, .null?: problems.append("line_items: is required")
        case let other?: problems.append("line_items: must be an array, not \(other.typeName)")
        }
        let order = ShopifyOrder(
            id: id ?? "", name: text("name"), createdAt: date("created_at"), currency: text("currency"),
            financialStatus: text("financial_status"), fulfillmentStatus: text("fulfillment_status"), totalPrice: text("total_price"),
            locationId: locationId, lineItems: items, cancelledAt: date("cancelled_at"), cancelReason: text("cancel_reason"))
        guard problems.isEmpty, id != nil else { throw Malformed(problems: problems) }
        return order
    }

    /// The channel reference kept on the order. The shop domain is compared
    /// in lower case: the webhook's `X-Shopify-Shop-Domain` and channel-sync's
    /// configured domain must name one shop the same way, or one Shopify order
    /// would derive two order ids.
    public func reference(shop: String) -> ChannelOrderReference {
        ChannelOrderReference(channel: Self.channel, shop: Self.normalizedShop(shop), orderId: id, orderName: name)
    }

    /// A shop domain as order ids are derived from it: trimmed, in lower case.
    public static func normalizedShop(_ shop: String) -> String {
        shop.trimmingCharacters(in: .whitespaces).lowercased()
    }

    /// The reason an order is cancelled with when Shopify cancelled it (the webhook's and reconciliation's alike).
    public var cancellationReason: String { "\(Self.channel): " + (cancelReason ?? "no reason given") }

    /// The id of the order this Shopify order is (or becomes) in the system:
    /// derived from the shop and Shopify's id, so every delivery of it, and
    /// reconciliation finding it, name the same order.
    public func orderId(shop: String, ids: OrderID) -> UUID {
        ids.make(idempotencyKey: reference(shop: shop).idempotencyKey)
    }

    /// The order to enqueue. `products` maps SKUs to product ids (a SKU with
    /// no entry is taken as the product id itself, so an unknown one reaches
    /// the worker and is REJECTED there with its reason, never dropped). Lines
    /// of the same product are added up. Throws `Malformed` for what no order
    /// can be made of: a line without a SKU, no lines, too many lines.
    public func orderPlaced(shop: String, ids: OrderID, products: [String: String], acceptedAt: Date) throws(Malformed) -> OrderPlaced {
        var problems: [String] = []
        var quantities: [String: Int] = [:]
        var order: [String] = []
        for (index, item) in lineItems.enumerated() {
            guard let sku = item.sku else {
                problems.append("line_items[\(index)].sku: is required (a line without a SKU cannot be fulfilled from stock)")
                continue
            }
            let product = products[sku] ?? sku
            if quantities[product] == nil { order.append(product) }
            quantities[product, default: 0] += item.quantity
        }
        let lines = order.map { OrderLine(productId: $0, quantity: quantities[$0]!) }
        if problems.isEmpty, case .failure(let failure) = OrderRequest.validate(
            .object(["items": .array(lines.map { .object(["productId": .string($0.productId), "quantity": .integer(Int64($0.quantity))]) })]))
        {
            problems += failure.errors.map { "\($0.field.replacingOccurrences(of: "items", with: "line_items")): \($0.message)" }
        }
        guard problems.isEmpty else { throw Malformed(problems: problems) }
        let reference = reference(shop: shop)
        return OrderPlaced(
            orderId: ids.make(idempotencyKey: reference.idempotencyKey), lines: lines, idempotencyKey: reference.idempotencyKey,
            acceptedAt: acceptedAt, channel: reference)
    }
}
