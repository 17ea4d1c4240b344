import Foundation
import TextCodecs

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

    /// The same bytes as `MessageCoding.encoder` (sorted keys, no
    /// `idempotencyKey` when nil), written directly: JSONEncoder and its
    /// Foundation date formatting were slow on this hot path.
    public func encoded() -> [UInt8] {
        var writer = JSONWriter(capacity: 112 + (idempotencyKey?.utf8.count ?? 0) + lines.count * 48)
        writer.raw(#"{"acceptedAt":"#)
        writer.date(acceptedAt)
        if let idempotencyKey {
            writer.raw(#","idempotencyKey":"#)
            writer.string(idempotencyKey)
        }
        writer.raw(#","lines":["#)
        for (index, line) in lines.enumerated() {
            writer.raw(index == 0 ? #"{"productId":"# : #",{"productId":"#)
            writer.string(line.productId)
            writer.raw(#","quantity":"#)
            writer.integer(line.quantity)
            writer.raw("}")
        }
        writer.raw(#"],"orderId":""#)
        writer.uuid(orderId)
        writer.raw(#""}"#)
        return writer.bytes
    }

    /// Decodes and validates a message body. Anything wrong is a `PoisonMessage`:
    /// it goes to the DLQ with the reason, never retried.
    public static func decode(_ body: [UInt8]) throws(PoisonMessage) -> OrderPlaced {
        let object = try MessageFields.object(body)
        var problems: [String] = []
        let orderId = MessageFields.uuid("orderId", in: object, problems: &problems)
        var lines: [OrderLine] = []
        switch OrderRequest.validate(.object(["items": object["lines"] ?? .null])) {
        case .success(let valid): lines = valid
        case .failure(let failure):
            problems += failure.errors.map { "\($0.field.replacingOccurrences(of: "items", with: "lines")): \($0.message)" }
        }
        var acceptedAt = Date(timeIntervalSince1970: 0)
        if let text = MessageFields.string("acceptedAt", in: object, problems: &problems) {
            if let date = MessageCoding.parseDate(text) { acceptedAt = date } else { problems.append("acceptedAt: not an ISO 8601 date") }
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

    /// The same bytes as `MessageCoding.encoder` (sorted keys), written directly.
    public func encoded() -> [UInt8] {
        var writer = JSONWriter(capacity: 160 + vendorId.utf8.count + productId.utf8.count)
        writer.raw(#"{"allocationId":""#)
        writer.uuid(allocationId)
        writer.raw(#"","orderId":""#)
        writer.uuid(orderId)
        writer.raw(#"","productId":"#)
        writer.string(productId)
        writer.raw(#","quantity":"#)
        writer.integer(quantity)
        writer.raw(#","vendorId":"#)
        writer.string(vendorId)
        writer.raw("}")
        return writer.bytes
    }

    /// Decodes and validates a message body; every wrong field is named in the
    /// `PoisonMessage`'s detail. Unknown fields are ignored, as Codable did.
    public static func decode(_ body: [UInt8]) throws(PoisonMessage) -> VendorAllocation {
        let object = try MessageFields.object(body)
        var problems: [String] = []
        let allocationId = MessageFields.uuid("allocationId", in: object, problems: &problems)
        let orderId = MessageFields.uuid("orderId", in: object, problems: &problems)
        let vendorId = MessageFields.string("vendorId", in: object, problems: &problems)
        let productId = MessageFields.string("productId", in: object, problems: &problems)
        var quantity: Int?
        switch object["quantity"] {
        case .integer(let number)?: quantity = Int(clamping: number)
        case .number?: problems.append("quantity: must be an integer from 1 to 1000000")
        case nil: problems.append("quantity: is required")
        case let other?: problems.append("quantity: must be an integer, not \(other.typeName)")
        }
        guard problems.isEmpty, let allocationId, let orderId, let vendorId, let productId, let quantity else {
            throw PoisonMessage(reason: .invalid, detail: problems.joined(separator: "; "))
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

/// Reading a message body's fields, naming each wrong one.
enum MessageFields {
    /// The body as a JSON object; anything else is poison.
    static func object(_ body: [UInt8]) throws(PoisonMessage) -> [String: JSONValue] {
        let value: JSONValue
        do {
            value = try JSONValue.parse(body)
        } catch {
            throw PoisonMessage(reason: .undecodable, detail: "body is not JSON")
        }
        guard case .object(let object) = value else {
            throw PoisonMessage(reason: .invalid, detail: "body must be a JSON object, not \(value.typeName)")
        }
        return object
    }

    static func string(_ field: String, in object: [String: JSONValue], problems: inout [String]) -> String? {
        switch object[field] {
        case .string(let text)?: return text
        case nil: problems.append("\(field): is required")
        case let other?: problems.append("\(field): must be a string, not \(other.typeName)")
        }
        return nil
    }

    static func uuid(_ field: String, in object: [String: JSONValue], problems: inout [String]) -> UUID? {
        guard let text = string(field, in: object, problems: &problems) else { return nil }
        guard let id = UUIDText.parse(text) else {
            problems.append("\(field): not a UUID")
            return nil
        }
        return id
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

    /// `2026-11-21T03:04:05.123Z`: UTC, milliseconds.
    public static func formatDate(_ date: Date) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        appendDate(date, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The bytes of `formatDate(date)`: by arithmetic, or by Foundation for
    /// the years the fast path leaves to it.
    static func appendDate(_ date: Date, to bytes: inout [UInt8]) {
        if !ISO8601Timestamp.append(date, to: &bytes) {
            bytes.append(contentsOf: foundationFormatDate(date).utf8)
        }
    }

    /// ISO 8601 with or without fractional seconds; the common
    /// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` without Foundation.
    public static func parseDate(_ text: String) -> Date? {
        ISO8601Timestamp.parse(text) ?? foundationParseDate(text)
    }

    /// What `formatDate` did before the fast path (still used outside its years).
    static func foundationFormatDate(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }

    /// What `parseDate` did before the fast path (still used for anything it does not take).
    static func foundationParseDate(_ text: String) -> Date? {
        (try? Date(text, strategy: .iso8601.year().month().day().time(includingFractionalSeconds: true)))
            ?? (try? Date(text, strategy: .iso8601))
    }
}
