/// Where an order came from when a sales channel sent it (a Shopify order
/// webhook, or reconciliation finding one whose webhook never came): the
/// channel's own reference, kept on the order and shown by `GET /orders/{id}`.
/// An order placed through the HTTP API has none.
public struct ChannelOrderReference: Sendable, Hashable, Codable {
    /// The channel, e.g. "shopify" (lower case, as `orders.channel` allows).
    public let channel: String
    /// The shop on that channel (Shopify's `*.myshopify.com` domain).
    public let shop: String
    /// The channel's order id (Shopify's numeric id, as text).
    public let orderId: String
    /// The channel's order name as its customers see it (Shopify's "#1001").
    public let orderName: String?

    public init(channel: String, shop: String, orderId: String, orderName: String?) {
        self.channel = channel
        self.shop = shop
        self.orderId = orderId
        self.orderName = orderName
    }

    /// The idempotency key a channel order is taken under: the same channel
    /// order, however often it is delivered or found, is one order (its id is
    /// derived from this key).
    public var idempotencyKey: String { "\(channel):\(shop):\(orderId)" }

    static let maximumFieldLength = 255

    /// Reads the `channel` field of a message; nil and a note for anything malformed.
    static func validate(_ value: JSONValue?, errors: inout [FieldError]) -> ChannelOrderReference? {
        switch value {
        case nil, .null?: return nil
        case .object(let fields)?:
            for key in fields.keys.sorted() where !["channel", "shop", "orderId", "orderName"].contains(key) {
                errors.append(FieldError(field: "channel." + key, message: "is not a known field"))
            }
            func text(_ key: String, required: Bool) -> String? {
                switch fields[key] {
                case .string(let text)? where !text.isEmpty && text.utf8.count <= maximumFieldLength: return text
                case .string?: errors.append(FieldError(field: "channel." + key, message: "must be 1 to \(maximumFieldLength) bytes"))
                case nil, .null?: if required { errors.append(FieldError(field: "channel." + key, message: "is required")) }
                case let other?: errors.append(FieldError(field: "channel." + key, message: "must be a string, not \(other.typeName)"))
                }
                return nil
            }
            let (channel, shop, orderId, name) = (text("channel", required: true), text("shop", required: true), text("orderId", required: true), text("orderName", required: false))
            guard let channel, let shop, let orderId else { return nil }
            guard channel.utf8.count <= 32, channel.utf8.first.map({ (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) }) == true,
                  channel.utf8.allSatisfy({ (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") })
            else {
                errors.append(FieldError(field: "channel.channel", message: "must be a lower-case name such as shopify"))
                return nil
            }
            return ChannelOrderReference(channel: channel, shop: shop, orderId: orderId, orderName: name)
        case let other?:
            errors.append(FieldError(field: "channel", message: "must be an object, not \(other.typeName)"))
            return nil
        }
    }
}
