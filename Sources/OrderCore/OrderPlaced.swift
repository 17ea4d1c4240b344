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
    /// The checkout hold the order consumes, if it named one.
    public let reservationId: UUID?
    /// The payment it asks for: the worker holds its stock (RESERVED) instead of confirming it.
    public let payment: PaymentRequest?
    /// The sales channel's reference, for an order a channel sent.
    public let channel: ChannelOrderReference?

    public init(
        orderId: UUID, lines: [OrderLine], idempotencyKey: String?, acceptedAt: Date, reservationId: UUID? = nil, payment: PaymentRequest? = nil,
        channel: ChannelOrderReference? = nil
    ) {
        self.orderId = orderId
        self.lines = lines
        self.idempotencyKey = idempotencyKey
        self.acceptedAt = acceptedAt
        self.reservationId = reservationId
        self.payment = payment
        self.channel = channel
    }

    /// Codable's form of the message (JSONDecoder reads it; the
    /// micro-benchmark and the tests' oracle use it), with the id in lower
    /// case as everywhere else, where the synthesized form would write
    /// Foundation's upper-case `uuidString`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(acceptedAt, forKey: .acceptedAt)
        try container.encodeIfPresent(channel, forKey: .channel)
        try container.encodeIfPresent(idempotencyKey, forKey: .idempotencyKey)
        try container.encode(lines, forKey: .lines)
        try container.encode(UUIDText.string(orderId), forKey: .orderId)
        try container.encodeIfPresent(payment, forKey: .payment)
        try container.encodeIfPresent(reservationId.map(UUIDText.string), forKey: .reservationId)
    }

    /// The same bytes as `MessageCoding.encoder` (sorted keys, no
    /// `channel`, `idempotencyKey`, `payment` or `reservationId` when nil), written with `JSONWriter`: the API writes
    /// one per order, and JSONEncoder with Foundation's date formatting cost
    /// more than the rest of the request.
    public func encoded() -> [UInt8] {
        var writer = JSONWriter(capacity: 112 + (idempotencyKey?.utf8.count ?? 0) + lines.count * 48)
        writer.raw(#"{"acceptedAt":"#)
        writer.date(acceptedAt)
        if let channel {
            writer.raw(#","channel":{"channel":"#)
            writer.string(channel.channel)
            writer.raw(#","orderId":"#)
            writer.string(channel.orderId)
            if let orderName = channel.orderName {
                writer.raw(#","orderName":"#)
                writer.string(orderName)
            }
            writer.raw(#","shop":"#)
            writer.string(channel.shop)
            writer.raw("}")
        }
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
        writer.raw(#"],"orderId":"#)
        writer.uuid(orderId)
        if let payment {
            writer.raw(#","payment":{"method":"#)
            writer.string(payment.method)
            writer.raw("}")
        }
        if let reservationId {
            writer.raw(#","reservationId":"#)
            writer.uuid(reservationId)
        }
        writer.raw("}")
        return writer.bytes
    }

    /// Decodes and validates a message body. Anything wrong is a `PoisonMessage`:
    /// it goes to the DLQ with the reason, never retried.
    public static func decode(_ body: [UInt8]) throws(PoisonMessage) -> OrderPlaced {
        var fields = try MessageFields(body)
        let orderId = fields.uuid("orderId")
        var lines: [OrderLine] = []
        switch OrderRequest.validate(.object(["items": fields["lines"] ?? .null])) {
        case .success(let valid): lines = valid
        case .failure(let failure):
            for error in failure.errors { fields.note("\(error.field.replacingOccurrences(of: "items", with: "lines")): \(error.message)") }
        }
        var acceptedAt = Date(timeIntervalSince1970: 0)
        if let text = fields.string("acceptedAt") {
            if let date = MessageCoding.parseDate(text) { acceptedAt = date } else { fields.note("acceptedAt: not an ISO 8601 date") }
        }
        var key: String?
        switch fields["idempotencyKey"] {
        case nil, .null?: break
        case .string(let text)?: key = text
        case let other?: fields.note("idempotencyKey: must be a string, not \(other.typeName)")
        }
        var errors: [FieldError] = []
        let reservationId = OrderRequest.validateReservationId(fields["reservationId"], errors: &errors)
        let payment = OrderRequest.validatePayment(fields["payment"], errors: &errors)
        let channel = ChannelOrderReference.validate(fields["channel"], errors: &errors)
        for error in errors { fields.note("\(error.field): \(error.message)") }
        guard fields.problems.isEmpty, let orderId else { throw fields.poison }
        return OrderPlaced(
            orderId: orderId, lines: lines, idempotencyKey: key, acceptedAt: acceptedAt, reservationId: reservationId, payment: payment,
            channel: channel)
    }
}
