import AMQP
import Foundation
import Messaging
import OrderCore

/// One message as `dlq export` writes it: one JSON object per line, every
/// property, headers with their AMQP types, the body in base64. `dlq import`
/// publishes it back exactly.
public struct ExportedMessage: Codable, Sendable, Hashable {
    /// Version of this line format.
    public static let formatVersion = 1

    public struct Properties: Codable, Sendable, Hashable {
        public var contentType: String?
        public var contentEncoding: String?
        public var headers: [String: TypedValue]
        /// 1 transient, 2 persistent.
        public var deliveryMode: UInt8?
        public var priority: UInt8?
        public var correlationId: String?
        public var replyTo: String?
        public var expiration: String?
        public var messageId: String?
        /// Seconds since 1970 (AMQP timestamps have second precision).
        public var timestamp: Int64?
        public var type: String?
        public var userId: String?
        public var appId: String?
    }

    public var format: Int
    /// The queue the message was exported from; `dlq import` publishes back to it unless told `--to`.
    public var queue: String
    public var exchange: String
    public var routingKey: String
    public var redelivered: Bool
    /// The `x-delivery-count` a quorum queue put on the delivery (0 the first time), kept here and
    /// not in the headers: it describes the queue's deliveries, not the message, and the queue
    /// imported into sets its own.
    public var deliveryCount: Int64?
    public var exportedAt: String
    public var properties: Properties
    /// The body, base64.
    public var body: String
    public var bodyLength: Int

    public init(queue: String, delivery: AMQPDelivery, exportedAt: Date) {
        let p = delivery.properties
        format = Self.formatVersion
        self.queue = queue
        exchange = delivery.exchange
        routingKey = delivery.routingKey
        redelivered = delivery.redelivered
        deliveryCount = p.headers[FailureHeaders.Name.deliveryCount]?.intValue.map(Int64.init)
        self.exportedAt = MessageCoding.formatDate(exportedAt)
        properties = Properties(
            contentType: p.contentType, contentEncoding: p.contentEncoding,
            headers: p.headers.filter { $0.key != FailureHeaders.Name.deliveryCount }.mapValues(TypedValue.init),
            deliveryMode: p.deliveryMode?.rawValue, priority: p.priority, correlationId: p.correlationID, replyTo: p.replyTo,
            expiration: p.expiration, messageId: p.messageID, timestamp: p.timestamp.map { Int64($0.timeIntervalSince1970.rounded(.down)) },
            type: p.type, userId: p.userID, appId: p.appID)
        body = Data(delivery.body).base64EncodedString()
        bodyLength = delivery.body.count
    }

    /// The properties to publish.
    public func amqpProperties() throws -> AMQPProperties {
        var deliveryMode: AMQPProperties.DeliveryMode?
        if let raw = properties.deliveryMode {
            guard let mode = AMQPProperties.DeliveryMode(rawValue: raw) else { throw JSONLinesError("deliveryMode must be 1 or 2, not \(raw)") }
            deliveryMode = mode
        }
        return AMQPProperties(
            contentType: properties.contentType, contentEncoding: properties.contentEncoding, headers: properties.headers.mapValues(\.value),
            deliveryMode: deliveryMode, priority: properties.priority, correlationID: properties.correlationId, replyTo: properties.replyTo,
            expiration: properties.expiration, messageID: properties.messageId,
            timestamp: properties.timestamp.map { Date(timeIntervalSince1970: TimeInterval($0)) }, type: properties.type,
            userID: properties.userId, appID: properties.appId)
    }

    public func bodyBytes() throws -> [UInt8] {
        guard let data = Data(base64Encoded: body) else { throw JSONLinesError("body is not base64") }
        guard data.count == bodyLength else { throw JSONLinesError("body has \(data.count) bytes, bodyLength says \(bodyLength)") }
        return Array(data)
    }
}
