import Foundation

/// The basic-class properties of a message.
public struct AMQPProperties: Sendable, Hashable {
    public enum DeliveryMode: UInt8, Sendable {
        case transient = 1
        case persistent = 2
    }

    public var contentType: String?
    public var contentEncoding: String?
    public var headers: AMQPTable
    public var deliveryMode: DeliveryMode?
    public var priority: UInt8?
    public var correlationID: String?
    public var replyTo: String?
    public var expiration: String?
    public var messageID: String?
    /// Seconds since 1970 (AMQP timestamps have second precision).
    public var timestamp: Date?
    public var type: String?
    public var userID: String?
    public var appID: String?

    public init(
        contentType: String? = nil,
        contentEncoding: String? = nil,
        headers: AMQPTable = [:],
        deliveryMode: DeliveryMode? = nil,
        priority: UInt8? = nil,
        correlationID: String? = nil,
        replyTo: String? = nil,
        expiration: String? = nil,
        messageID: String? = nil,
        timestamp: Date? = nil,
        type: String? = nil,
        userID: String? = nil,
        appID: String? = nil
    ) {
        self.contentType = contentType
        self.contentEncoding = contentEncoding
        self.headers = headers
        self.deliveryMode = deliveryMode
        self.priority = priority
        self.correlationID = correlationID
        self.replyTo = replyTo
        self.expiration = expiration
        self.messageID = messageID
        self.timestamp = timestamp
        self.type = type
        self.userID = userID
        self.appID = appID
    }

    public var isPersistent: Bool { deliveryMode == .persistent }
}

/// A message received from a queue, by a consumer or `basic.get`. Its bytes
/// are copied out of librabbitmq, so it outlives the frame it came in.
public struct AMQPDelivery: Sendable {
    public let deliveryTag: UInt64
    public let redelivered: Bool
    public let exchange: String
    public let routingKey: String
    public let properties: AMQPProperties
    public let body: [UInt8]
    /// For `basic.get`: how many messages the queue still holds after this one.
    public let messagesRemaining: UInt32?

    public init(
        deliveryTag: UInt64, redelivered: Bool, exchange: String, routingKey: String,
        properties: AMQPProperties, body: [UInt8], messagesRemaining: UInt32? = nil
    ) {
        self.deliveryTag = deliveryTag
        self.redelivered = redelivered
        self.exchange = exchange
        self.routingKey = routingKey
        self.properties = properties
        self.body = body
        self.messagesRemaining = messagesRemaining
    }
}

/// What `queue.declare` answers.
public struct AMQPQueueState: Sendable, Hashable {
    public let name: String
    public let messageCount: UInt32
    public let consumerCount: UInt32
}

/// A message to publish, for `AMQPChannel.publish(_:)` with several at once.
public struct AMQPOutgoingMessage: Sendable {
    public var body: [UInt8]
    public var exchange: String
    public var routingKey: String
    public var mandatory: Bool
    public var properties: AMQPProperties

    public init(_ body: [UInt8], exchange: String = "", routingKey: String, mandatory: Bool = false, properties: AMQPProperties = AMQPProperties()) {
        self.body = body
        self.exchange = exchange
        self.routingKey = routingKey
        self.mandatory = mandatory
        self.properties = properties
    }
}
