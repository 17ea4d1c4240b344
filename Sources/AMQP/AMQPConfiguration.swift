import Foundation
import TextCodecs

/// Where and how to connect, parsed from an `amqp://user:pass@host:port/vhost` URL.
///
/// The vhost is the URL's path, percent-decoded (`/%2F` is the default vhost
/// `/`; an empty path also means `/`). Query options: `heartbeat` (seconds),
/// `connection_timeout` (milliseconds), `frame_max`, `channel_max`.
public struct AMQPConfiguration: Sendable, Hashable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String
    public var vhost: String
    /// Seconds between heartbeats; 0 turns them off.
    public var heartbeat: Int
    public var connectTimeout: Duration
    /// How long a synchronous broker call (declare, consume, …) may take before the connection is declared dead.
    public var rpcTimeout: Duration
    public var frameMax: Int
    public var channelMax: Int
    /// Shown in the management UI's connection list.
    public var connectionName: String

    public init(
        host: String = "127.0.0.1", port: Int = 5672, user: String = "guest", password: String = "guest",
        vhost: String = "/", heartbeat: Int = 10, connectTimeout: Duration = .seconds(5),
        rpcTimeout: Duration = .seconds(30), frameMax: Int = 131_072, channelMax: Int = 0,
        connectionName: String = "order-processing"
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.vhost = vhost
        self.heartbeat = heartbeat
        self.connectTimeout = connectTimeout
        self.rpcTimeout = rpcTimeout
        self.frameMax = frameMax
        self.channelMax = channelMax
        self.connectionName = connectionName
    }

    public init(url: String, connectionName: String = "order-processing") throws(AMQPError) {
        guard let components = URLComponents(string: url),
            let scheme = components.scheme?.lowercased()
        else {
            throw AMQPError(kind: .invalidArgument, message: "not an AMQP URL (expected amqp://user:pass@host:port/vhost)")
        }
        guard scheme == "amqp" else {
            throw AMQPError(kind: .invalidArgument, message: "unsupported URL scheme '\(scheme)' (only amqp:// is supported)")
        }
        self.init(connectionName: connectionName)
        if let host = components.host, !host.isEmpty { self.host = host }
        if let port = components.port {
            guard (1...65535).contains(port) else {
                throw AMQPError(kind: .invalidArgument, message: "port \(port) is out of range")
            }
            self.port = port
        }
        if let user = components.percentEncodedUser { self.user = user.removingPercentEncoding ?? user }
        if let password = components.percentEncodedPassword {
            self.password = password.removingPercentEncoding ?? password
        }
        let path = components.percentEncodedPath
        if path.isEmpty || path == "/" {
            vhost = "/"
        } else {
            let raw = String(path.dropFirst())
            guard !raw.contains("/") else {
                throw AMQPError(kind: .invalidArgument, message: "the vhost in an AMQP URL must be one path segment (use %2F for '/')")
            }
            vhost = raw.removingPercentEncoding ?? raw
        }
        for item in components.queryItems ?? [] {
            guard let value = item.value, let number = Int(value), number >= 0 else {
                throw AMQPError(kind: .invalidArgument, message: "URL option '\(item.name)' needs a non-negative integer")
            }
            switch item.name {
            case "heartbeat": heartbeat = number
            case "connection_timeout": connectTimeout = .milliseconds(number)
            case "frame_max": frameMax = number
            case "channel_max": channelMax = number
            default:
                throw AMQPError(kind: .invalidArgument, message: "unknown AMQP URL option '\(item.name)'")
            }
        }
    }

    /// The URL with the password masked, for logs.
    public var redactedURL: String {
        let encodedVhost = vhost.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? vhost
        let encodedUser = user.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? user
        // The password never enters the text (a redaction after the fact would
        // depend on the encoding keeping its `:` and `@` apart).
        return "amqp://\(encodedUser):\(URLRedaction.mask)@\(host):\(port)/\(encodedVhost)"
    }
}
