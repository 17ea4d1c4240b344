/// An error from the broker or from librabbitmq.
///
/// `replyCode` is the AMQP reply code when the broker closed the channel or
/// connection (404 NOT_FOUND, 406 PRECONDITION_FAILED, 312 NO_ROUTE for a
/// returned message, …). `isChannelDead` and `isConnectionDead` tell the
/// caller what must be reopened before going on.
public struct AMQPError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The TCP connection could not be opened, or broke (socket error, heartbeat timeout).
        case connectionFailed
        /// The broker closed the connection (connection.close), or it was closed by us.
        case connectionClosed
        /// The broker closed the channel (channel.close), e.g. 404 or 406.
        case channelClosed
        /// A mandatory publish could not be routed (basic.return).
        case returned
        /// The broker refused a published message (basic.nack).
        case nacked
        /// An operation took longer than its deadline.
        case timeout
        /// The caller passed something the library cannot use.
        case invalidArgument
        /// Another librabbitmq failure.
        case library
    }

    /// AMQP reply codes (open-ended: any code the broker sends is representable).
    public struct ReplyCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }

        public static let contentTooLarge = ReplyCode(rawValue: 311)
        public static let noRoute = ReplyCode(rawValue: 312)
        public static let noConsumers = ReplyCode(rawValue: 313)
        public static let connectionForced = ReplyCode(rawValue: 320)
        public static let invalidPath = ReplyCode(rawValue: 402)
        public static let accessRefused = ReplyCode(rawValue: 403)
        public static let notFound = ReplyCode(rawValue: 404)
        public static let resourceLocked = ReplyCode(rawValue: 405)
        public static let preconditionFailed = ReplyCode(rawValue: 406)
        public static let frameError = ReplyCode(rawValue: 501)
        public static let syntaxError = ReplyCode(rawValue: 502)
        public static let commandInvalid = ReplyCode(rawValue: 503)
        public static let channelError = ReplyCode(rawValue: 504)
        public static let unexpectedFrame = ReplyCode(rawValue: 505)
        public static let resourceError = ReplyCode(rawValue: 506)
        public static let notAllowed = ReplyCode(rawValue: 530)
        public static let notImplemented = ReplyCode(rawValue: 540)
        public static let internalError = ReplyCode(rawValue: 541)

        public var name: String {
            switch rawValue {
            case 311: "CONTENT_TOO_LARGE"
            case 312: "NO_ROUTE"
            case 313: "NO_CONSUMERS"
            case 320: "CONNECTION_FORCED"
            case 402: "INVALID_PATH"
            case 403: "ACCESS_REFUSED"
            case 404: "NOT_FOUND"
            case 405: "RESOURCE_LOCKED"
            case 406: "PRECONDITION_FAILED"
            case 501: "FRAME_ERROR"
            case 502: "SYNTAX_ERROR"
            case 503: "COMMAND_INVALID"
            case 504: "CHANNEL_ERROR"
            case 505: "UNEXPECTED_FRAME"
            case 506: "RESOURCE_ERROR"
            case 530: "NOT_ALLOWED"
            case 540: "NOT_IMPLEMENTED"
            case 541: "INTERNAL_ERROR"
            default: "CODE_\(rawValue)"
            }
        }

        public var description: String { "\(rawValue) \(name)" }
    }

    public let kind: Kind
    public let replyCode: ReplyCode?
    /// The broker's reply text, or librabbitmq's description of its status.
    public let message: String
    /// librabbitmq's status code (`amqp_status_enum`), when the library reported the failure.
    public let libraryStatus: Int32?

    public init(kind: Kind, replyCode: ReplyCode? = nil, message: String, libraryStatus: Int32? = nil) {
        self.kind = kind
        self.replyCode = replyCode
        self.message = message
        self.libraryStatus = libraryStatus
    }

    /// The connection cannot be used any more: reconnect.
    public var isConnectionDead: Bool {
        switch kind {
        case .connectionFailed, .connectionClosed: true
        case .timeout: libraryStatus != nil
        default: false
        }
    }

    /// The channel cannot be used any more: open another (or reconnect when the connection is dead too).
    public var isChannelDead: Bool { isConnectionDead || kind == .channelClosed }

    /// A publisher should go on with a new channel, not this one: it is dead,
    /// or the broker nacked a publish on it. RabbitMQ 3.10 nacks every publish
    /// of a channel that first published to a quorum queue while the queue's
    /// leader was down, for as long as the channel lives (measured on the
    /// loopback cluster: 25 s of nacks on one channel after a SIGKILL of the
    /// leader's node, while a channel opened 12 s in on the same connection
    /// was acked at once). The nacked message may be published again there.
    public var needsNewChannel: Bool { isChannelDead || kind == .nacked }

    public var description: String {
        var text = "AMQP \(kind)"
        if let replyCode { text += " \(replyCode)" }
        text += ": \(message)"
        return text
    }
}
