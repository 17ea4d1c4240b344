import Foundation
import TextCodecs

/// A message to publish once the transaction that implied it has committed:
/// an order or inventory event, or a vendor_sync movement written to the
/// outbox. It names no AMQP type so that OrderStore can keep it in a table;
/// Messaging turns it into a persistent JSON message.
public struct OutboundMessage: Sendable, Hashable {
    /// "" for the default exchange (then `routingKey` is a queue name).
    public let exchange: String
    public let routingKey: String
    public let messageId: String
    public let correlationId: String?
    public let type: String
    public let body: [UInt8]

    public init(exchange: String, routingKey: String, messageId: String, correlationId: String?, type: String, body: [UInt8]) {
        self.exchange = exchange
        self.routingKey = routingKey
        self.messageId = messageId
        self.correlationId = correlationId
        self.type = type
        self.body = body
    }
}

/// One committed transition of an order, as its history row holds it and as
/// its `order.<state>` event announces it.
public struct RecordedTransition: Sendable, Hashable {
    public let orderId: UUID
    /// 1, 2, … per order: subscribers find gaps and order by it.
    public let sequence: Int
    /// The event's id (AMQP `message_id`): the same on every re-publication.
    public let eventId: UUID
    public let from: OrderState
    public let to: OrderState
    /// `OrderEvent.name`.
    public let cause: String
    public let actor: OrderActor
    public let reason: String?
    public let occurredAt: Date

    public init(
        orderId: UUID, sequence: Int, eventId: UUID, from: OrderState, to: OrderState, cause: String, actor: OrderActor,
        reason: String?, occurredAt: Date
    ) {
        self.orderId = orderId
        self.sequence = sequence
        self.eventId = eventId
        self.from = from
        self.to = to
        self.cause = cause
        self.actor = actor
        self.reason = reason
        self.occurredAt = occurredAt
    }
}

/// How an order's history shows a transition (`GET /orders/{id}/events`,
/// `orderctl orders show`): always under its order, so without the order id,
/// and the event id in lower case as every id the services write.
extension RecordedTransition: Encodable {
    private enum CodingKeys: String, CodingKey {
        case sequence, eventId, from, to, cause, actor, reason, occurredAt
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(sequence, forKey: .sequence)
        try container.encode(UUIDText.string(eventId), forKey: .eventId)
        try container.encode(from, forKey: .from)
        try container.encode(to, forKey: .to)
        try container.encode(cause, forKey: .cause)
        try container.encode(actor, forKey: .actor)
        try container.encode(reason, forKey: .reason)
        try container.encode(occurredAt, forKey: .occurredAt)
    }
}

/// The `order_events` message of a transition (DESIGN.md "Events"): routing
/// key `order.<state>`, `message_id` the event id, `correlation_id` the order
/// id, `type` the routing key with its schema version. The body carries what a
/// subscriber needs without calling back: the transition and the order's lines.
public enum OrderEventMessage {
    public static let schemaVersion = 1

    /// A line as the event shows it: how many were bought and how many came back.
    public struct Line: Sendable, Hashable {
        public let productId: String
        public let quantity: Int
        public let returnedQuantity: Int

        public init(productId: String, quantity: Int, returnedQuantity: Int = 0) {
            self.productId = productId
            self.quantity = quantity
            self.returnedQuantity = returnedQuantity
        }
    }

    public static func routingKey(_ state: OrderState) -> String { "order." + state.eventName }

    public static func message(_ transition: RecordedTransition, lines: [Line], exchange: String) -> OutboundMessage {
        let key = routingKey(transition.to)
        var writer = JSONWriter(capacity: 384 + lines.count * 64)
        writer.raw(#"{"actor":"#)
        writer.string(transition.actor.rawValue)
        writer.raw(#","cause":"#)
        writer.string(transition.cause)
        writer.raw(#","eventId":"#)
        writer.uuid(transition.eventId)
        writer.raw(#","from":"#)
        writer.string(transition.from.rawValue)
        writer.raw(#","lines":["#)
        for (index, line) in lines.enumerated() {
            writer.raw(index == 0 ? #"{"productId":"# : #",{"productId":"#)
            writer.string(line.productId)
            writer.raw(#","quantity":"#)
            writer.integer(line.quantity)
            writer.raw(#","returnedQuantity":"#)
            writer.integer(line.returnedQuantity)
            writer.raw("}")
        }
        writer.raw(#"],"occurredAt":"#)
        writer.date(transition.occurredAt)
        writer.raw(#","orderId":"#)
        writer.uuid(transition.orderId)
        writer.raw(#","reason":"#)
        if let reason = transition.reason { writer.string(reason) } else { writer.raw("null") }
        writer.raw(#","schemaVersion":"#)
        writer.integer(schemaVersion)
        writer.raw(#","sequence":"#)
        writer.integer(transition.sequence)
        writer.raw(#","to":"#)
        writer.string(transition.to.rawValue)
        writer.raw(#","type":"#)
        writer.string(key)
        writer.raw("}")
        return OutboundMessage(
            exchange: exchange, routingKey: key, messageId: UUIDText.string(transition.eventId),
            correlationId: UUIDText.string(transition.orderId), type: "\(key).v\(schemaVersion)", body: writer.bytes)
    }
}

extension OrderEventMessage {
    /// What a subscriber needs to route an `order.<state>` event: whose it is and the state it announces.
    public struct Header: Sendable, Hashable {
        public let orderId: UUID
        public let to: OrderState
    }

    /// Reads an event's order id and new state; anything else is poison.
    public static func header(_ body: [UInt8]) throws(PoisonMessage) -> Header {
        var fields = try MessageFields(body)
        let orderId = fields.uuid("orderId")
        let to = fields.oneOf("to", OrderState.self)
        guard fields.problems.isEmpty, let orderId, let to else { throw fields.poison }
        return Header(orderId: orderId, to: to)
    }
}
