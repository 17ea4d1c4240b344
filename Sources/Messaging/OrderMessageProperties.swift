import AMQP
import OrderCore
import TextCodecs

extension OrderPlaced {
    /// The properties an `order.placed.v1` message is published with: by
    /// order-api, and by the bench harness that imitates it.
    public func amqpProperties(appID: String) -> AMQPProperties {
        let id = UUIDText.string(orderId)
        return AMQPProperties(
            contentType: "application/json", deliveryMode: .persistent, correlationID: id,
            messageID: id, timestamp: acceptedAt, type: OrderPlaced.messageType, appID: appID)
    }
}
