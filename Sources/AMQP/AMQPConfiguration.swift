import Foundation
import TextCodecs

/// Where and how to connect, parsed from an `amqp://user:pass@host:port/vhost`
/// URL, or from a comma-separated list of them: the nodes of one cluster,
/// tried in turn (see ``AMQPConnection/connect(_:logger:)``).
///
/// The vhost is the URL's path, percent-decoded (`/%2F` is the default vhost
/// `/`; an empty path also means `/`). Query options: `heartbeat` (seconds),
/// `connection_timeout` (milliseconds, per node tried), `frame_max`, `channel_max`.
///
/// In a list, only the host and port may differ between the URLs: the nodes
/// of a cluster share their users, vhosts and limits, and a connection whose
/// login or heartbeat changed with the node it landed on would behave
/// differently after a failover than before it.
public struct AMQPConfiguration: Sendable, Hashable {
    /// A broker node to connect to.
    public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        public var port: Int

        public init(host: String, port: Int = 5672) {
            self.host = host
            self.port = port
        }

        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// The nodes, in the order given; never empty.
    public var endpoints: [Endpoint]
    public var user: String
    public var password: String
    public var vhost: String
    /// Seconds between heartbeats; 0 turns them off.
    public var heartbeat: Int
    /// How long connecting to one node (TCP and the AMQP handshake) may take before the next is tried.
    public var connectTimeout: Duration
    /// How long a synchronous broker call (declare, consume, …) may take before the connection is declared dead.
    public var rpcTimeout: Duration
    public var frameMax: Int
    public var channelMax: Int
    /// Shown in the management UI's connection list.
    public var connectionName: String

    public init(
        endpoints: [Endpoint] = [Endpoint(host: "127.0.0.1")], user: String = "guest", password: String = "guest",
        vhost: String = "/", heartbeat: Int = 10, connectTimeout: Duration = .seconds(5),
        rpcTimeout: Duration = .seconds(30), frameMax: Int = 131_072, channelMax: Int = 0,
        connectionName: String = "order-processing"
    ) {
        precondition(!endpoints.isEmpty, "an AMQP configuration needs at least one endpoint")
        self.endpoints = endpoints
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

    /// Parses one `amqp://` URL or a comma-separated list of them (`AMQP_URLS`).
    /// Errors name the list item that is wrong and never repeat a password.
    public init(url: String, connectionName: String = "order-processing") throws(AMQPError) {
        let items = url.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard items.count > 1 else {
            self = try Self(single: url, connectionName: connectionName)
            return
        }
        var first: AMQPConfiguration?
        var endpoints: [Endpoint] = []
        for (index, item) in items.enumerated() {
            let position = "item \(index + 1) of \(items.count) of the AMQP URL list"
            guard !item.isEmpty else {
                throw AMQPError(kind: .invalidArgument, message: "\(position) is empty (expected amqp://user:pass@host:port/vhost,amqp://…)")
            }
            let parsed: AMQPConfiguration
            do {
                parsed = try Self(single: item, connectionName: connectionName)
            } catch {
                throw AMQPError(kind: .invalidArgument, message: "\(position): \(error.message)")
            }
            let endpoint = parsed.endpoints[0]
            guard !endpoints.contains(endpoint) else {
                throw AMQPError(kind: .invalidArgument, message: "\(position) repeats the node \(endpoint)")
            }
            endpoints.append(endpoint)
            guard let first else {
                first = parsed
                continue
            }
            if let difference = parsed.differenceApartFromEndpoints(from: first) {
                throw AMQPError(
                    kind: .invalidArgument,
                    message: "\(position): its \(difference) differs from item 1's (the URLs of a list may differ only in host and port)")
            }
        }
        self = first!
        self.endpoints = endpoints
    }

    private init(single url: String, connectionName: String) throws(AMQPError) {
        guard let components = URLComponents(string: url),
            let scheme = components.scheme?.lowercased()
        else {
            throw AMQPError(kind: .invalidArgument, message: "not an AMQP URL (expected amqp://user:pass@host:port/vhost)")
        }
        guard scheme == "amqp" else {
            throw AMQPError(kind: .invalidArgument, message: "unsupported URL scheme '\(scheme)' (only amqp:// is supported)")
        }
        self.init(connectionName: connectionName)
        var endpoint = endpoints[0]
        if let host = components.host, !host.isEmpty { endpoint.host = host }
        if let port = components.port {
            guard (1...65535).contains(port) else {
                throw AMQPError(kind: .invalidArgument, message: "port \(port) is out of range")
            }
            endpoint.port = port
        }
        endpoints = [endpoint]
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

    /// What, apart from the endpoints, differs from `other` (named without its value: it may be the password).
    private func differenceApartFromEndpoints(from other: AMQPConfiguration) -> String? {
        var same = self
        same.endpoints = other.endpoints
        guard same != other else { return nil }
        if user != other.user { return "user name" }
        if password != other.password { return "password" }
        if vhost != other.vhost { return "vhost" }
        return "options (heartbeat, connection_timeout, frame_max, channel_max)"
    }

    /// The URL (a comma-separated list for several endpoints, as `AMQP_URLS`
    /// takes it) with the password masked, for logs.
    public var redactedURL: String {
        endpoints.map(redactedURL(of:)).joined(separator: ",")
    }

    /// One node's URL with the password masked: the node a connection landed on, or one that failed.
    public func redactedURL(of endpoint: Endpoint) -> String {
        let encodedVhost = vhost.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? vhost
        let encodedUser = user.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? user
        // The password never enters the text (a redaction after the fact would
        // depend on the encoding keeping its `:` and `@` apart).
        return "amqp://\(encodedUser):\(URLRedaction.mask)@\(endpoint)/\(encodedVhost)"
    }
}
