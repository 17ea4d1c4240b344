import AMQP
import OrderCore

extension OrderPlaced {
    /// The properties an `order.placed.v1` message is published with: by
    /// order-api, and by the bench harness that imitates it.
    public func amqpProperties(appID: String) -> AMQPProperties {
        AMQPProperties(
            contentType: "application/json", deliveryMode: .persistent, correlationID: orderId.uuidString,
            messageID: orderId.uuidString, timestamp: acceptedAt, type: OrderPlaced.messageType, appID: appID)
    }
}
