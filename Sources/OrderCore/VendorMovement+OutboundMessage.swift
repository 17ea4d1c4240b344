import TextCodecs

extension VendorMovement {
    /// Its vendor_sync message (to the queue by name through the default
    /// exchange), whether published by the worker after its commit or written
    /// to the outbox by a transaction that restocks: `message_id` the movement
    /// id, `correlation_id` the order id.
    public func outboundMessage(queue: String) -> OutboundMessage {
        OutboundMessage(
            exchange: "", routingKey: queue, messageId: UUIDText.string(movementId), correlationId: UUIDText.string(orderId),
            type: Self.messageType, body: encoded())
    }
}
