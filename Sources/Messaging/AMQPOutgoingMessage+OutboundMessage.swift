import AMQP
import Foundation
import OrderCore

extension AMQPOutgoingMessage {
    /// The one way a message a transaction implied (an event, a vendor_sync
    /// movement) goes on the wire: persistent JSON with its message id,
    /// correlation id and type. A message for a queue by name (the default
    /// exchange) is mandatory, so a missing queue is an error rather than a
    /// silent drop; an event is not: a topic exchange with no subscriber
    /// bound for its key has nobody to lose it for.
    public init(_ message: OutboundMessage, timestamp: Date) {
        self.init(
            message.body, exchange: message.exchange, routingKey: message.routingKey, mandatory: message.exchange.isEmpty,
            properties: AMQPProperties(
                contentType: "application/json", deliveryMode: .persistent, correlationID: message.correlationId,
                messageID: message.messageId, timestamp: timestamp, type: message.type))
    }
}
