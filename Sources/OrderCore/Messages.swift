import Foundation

/// The body of a message on `orders_queue` (AMQP `type` "order.placed.v1",
/// `message_id` and `correlation_id` the order id).
public struct OrderPlaced: Sendable, Hashable, Codable {
    public static let messageType = "order.placed.v1"

    public let orderId: UUID
    public let lines: [OrderLine]
    public let idempotencyKey: String?
    public let acceptedAt: Date

    public init(orderId: UUID, lines: [OrderLine], idempotencyKey: String?, acceptedAt: Date) {
        self.orderId = orderId
        self.lines = lines
        self.idempotencyKey = idempotencyKey
        self.acceptedAt = acceptedAt
    }

    public func encoded() -> [UInt8] { Array(try! MessageCoding.encoder.encode(self)) }

    /// Decodes and validates a message body. Anything wrong is a `PoisonMessage`:
    /// it goes to the DLQ with the reason, never retried.
    public static func decode(_ body: [UInt8]) throws(PoisonMessage) -> OrderPlaced {
        let value: JSONValue
        do {
            value = try MessageCoding.decoder.decode(JSONValue.self, from: Data(body))
        } catch {
            throw PoisonMessage(reason: .undecodable, detail: "body is not JSON")
        }
        guard case .object(let object) = value else {
            throw PoisonMessage(reason: .invalid, detail: "body must be a JSON object, not \(value.typeName)")
        }
        var problems: [String] = []
        var orderId: UUID?
        switch object["orderId"] {
        case .string(let text)?: orderId = UUID(uuidString: text); if orderId == nil { problems.append("orderId: not a UUID") }
        case nil: problems.append("orderId: is required")
        case let other?: problems.append("orderId: must be a string, not \(other.typeName)")
        }
        var lines: [OrderLine] = []
        switch OrderRequest.validate(.object(["items": object["lines"] ?? .null])) {
        case .success(let valid): lines = valid
        case .failure(let failure):
            problems += failure.errors.map { "\($0.field.replacingOccurrences(of: "items", with: "lines")): \($0.message)" }
        }
        var acceptedAt = Date(timeIntervalSince1970: 0)
        switch object["acceptedAt"] {
        case .string(let text)?:
            if let date = MessageCoding.parseDate(text) { acceptedAt = date } else { problems.append("acceptedAt: not an ISO 8601 date") }
        case nil: problems.append("acceptedAt: is required")
        case let other?: problems.append("acceptedAt: must be a string, not \(other.typeName)")
        }
        var key: String?
        switch object["idempotencyKey"] {
        case nil, .null?: break
        case .string(let text)?: key = text
        case let other?: problems.append("idempotencyKey: must be a string, not \(other.typeName)")
        }
        guard problems.isEmpty, let orderId else {
            throw PoisonMessage(reason: .invalid, detail: problems.joined(separator: "; "))
        }
        return OrderPlaced(orderId: orderId, lines: lines, idempotencyKey: key, acceptedAt: acceptedAt)
    }
}

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

    public func encoded() -> [UInt8] { Array(try! MessageCoding.encoder.encode(self)) }

    public static func decode(_ body: [UInt8]) throws(PoisonMessage) -> VendorAllocation {
        let message: VendorAllocation
        do {
            message = try MessageCoding.decoder.decode(VendorAllocation.self, from: Data(body))
        } catch DecodingError.dataCorrupted {
            throw PoisonMessage(reason: .undecodable, detail: "body is not JSON")
        } catch {
            throw PoisonMessage(reason: .invalid, detail: "\(MessageCoding.describe(error))")
        }
        guard OrderLimits.quantityRange.contains(message.quantity) else {
            throw PoisonMessage(reason: .invalid, detail: "quantity: must be an integer from 1 to 1000000")
        }
        guard OrderLimits.isValidProductId(message.productId), !message.vendorId.isEmpty else {
            throw PoisonMessage(reason: .invalid, detail: "productId or vendorId is not valid")
        }
        return message
    }
}

/// A message that can never be processed: it goes to the DLQ at once.
public struct PoisonMessage: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Reason: String, Sendable {
        /// Not JSON at all.
        case undecodable = "undecodable-message"
        /// JSON, but missing fields or with wrong types or values.
        case invalid = "invalid-message"
    }

    public let reason: Reason
    public let detail: String

    public init(reason: Reason, detail: String) {
        self.reason = reason
        self.detail = detail
    }

    public var description: String { "\(reason.rawValue): \(detail)" }
}

public enum MessageCoding {
    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(formatDate(date))
        }
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    public static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = parseDate(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an ISO 8601 date"))
            }
            return date
        }
        return decoder
    }()

    public static func formatDate(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }

    public static func parseDate(_ text: String) -> Date? {
        (try? Date(text, strategy: .iso8601.year().month().day().time(includingFractionalSeconds: true)))
            ?? (try? Date(text, strategy: .iso8601))
    }

    static func describe(_ error: any Error) -> String {
        switch error as? DecodingError {
        case .keyNotFound(let key, _)?: "\(key.stringValue): is required"
        case .typeMismatch(_, let context)?, .valueNotFound(_, let context)?:
            "\(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)"
        case .dataCorrupted(let context)?: context.debugDescription
        default: "\(error)"
        }
    }
}
