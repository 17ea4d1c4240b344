import Foundation
import TextCodecs

/// Where and how to connect, parsed from a URL such as
/// `postgres://user:pass@host:5432/db?sslmode=disable&application_name=x&connect_timeout=5`,
/// or a multi-host one, `postgres://user:pass@h1:5441,h2:5442,h3:5443/db?target_session_attrs=read-write`:
/// libpq tries the hosts in turn (each within `connect_timeout`) and keeps the
/// first whose session has the attributes asked for, so after a failover a
/// new connection lands on the new primary.
///
/// User, password and database are percent-decoded. The port defaults to
/// 5432 (per host), `connect_timeout` to 10 seconds. `target_session_attrs`
/// must be one of libpq's (`any`, `read-write`, `read-only`, `primary`,
/// `standby`, `prefer-standby`). Any other query item is passed to libpq as a
/// connection keyword (`sslmode`, …); libpq rejects unknown ones when connecting.
public struct PostgresConfiguration: Sendable, Hashable {
    /// A server to connect to.
    public struct Endpoint: Sendable, Hashable {
        public var host: String
        public var port: Int

        public init(host: String, port: Int = PostgresConfiguration.defaultPort) {
            self.host = host
            self.port = port
        }
    }

    /// The servers, in the order libpq tries them; never empty.
    public var endpoints: [Endpoint]
    public var user: String
    public var password: String?
    public var database: String
    public var applicationName: String?
    /// Seconds libpq waits for a connection (libpq's `connect_timeout`).
    public var connectTimeout: Int
    /// Further libpq connection keywords, e.g. `["sslmode": "disable"]`.
    public var options: [String: String]

    public static let defaultPort = 5432
    public static let defaultConnectTimeout = 10
    /// The `target_session_attrs` values libpq (15 and later) accepts.
    public static let targetSessionAttributes: Set<String> = ["any", "read-write", "read-only", "primary", "standby", "prefer-standby"]

    public init(
        endpoints: [Endpoint],
        user: String,
        password: String?,
        database: String,
        applicationName: String? = nil,
        connectTimeout: Int = PostgresConfiguration.defaultConnectTimeout,
        options: [String: String] = [:]
    ) {
        precondition(!endpoints.isEmpty, "a PostgreSQL configuration needs at least one endpoint")
        self.endpoints = endpoints
        self.user = user
        self.password = password
        self.database = database
        self.applicationName = applicationName
        self.connectTimeout = connectTimeout
        self.options = options
    }

    /// Parses a `postgres://` or `postgresql://` URL. Errors name the part
    /// that is wrong and never repeat the URL or the password.
    ///
    /// `URLComponents` splits the URL. It mends what RFC 3986 forbids: an `@`
    /// inside the user info becomes `%40`, which is libpq's rule too (the
    /// last `@` ends the user info), but a `%` not followed by two hex digits
    /// becomes `%25`, which would silently change a password; that one is
    /// refused.
    ///
    /// `URLComponents` cannot parse a host list: its hosts are parsed here one
    /// by one (with the same errors), and the rest of the URL as a one-host URL.
    public init(url: String) throws(PostgresError) {
        var text = String(url.trimmingWhitespace)
        guard text.contains("://") else {
            throw .configuration("invalid PostgreSQL URL: expected postgres://user:password@host:port/database")
        }
        var hostList: [Endpoint]?
        if let hosts = Self.hostListRange(in: text), text[hosts].contains(",") {
            let items = text[hosts].split(separator: ",", omittingEmptySubsequences: false)
            var endpoints: [Endpoint] = []
            for item in items {
                guard !item.isEmpty else { throw .configuration("invalid PostgreSQL URL: empty host in the host list") }
                endpoints.append(try Self.endpoint(String(item)))
            }
            hostList = endpoints
            text.replaceSubrange(hosts, with: items[0])
        }
        guard let components = URLComponents(string: text) else {
            throw .configuration(
                text.contains("[") && !text.contains("]")
                    ? "invalid PostgreSQL URL: unterminated IPv6 address in host"
                    : "invalid PostgreSQL URL: the host or port is malformed (the port must be a number from 1 to 65535)")
        }
        let isStrict = URLComponents(string: text, encodingInvalidCharacters: false) != nil
        func decoded(_ encoded: String?, _ part: String) throws(PostgresError) -> String? {
            guard let encoded else { return nil }
            let mendedEscape = !isStrict && encoded.contains("%25") && !text.contains(encoded)
            guard !mendedEscape, let value = encoded.removingPercentEncoding else {
                throw .configuration("invalid PostgreSQL URL: bad percent-encoding in the \(part)")
            }
            return value
        }

        guard let scheme = components.scheme?.lowercased(), scheme == "postgres" || scheme == "postgresql" else {
            throw .configuration("invalid PostgreSQL URL: the scheme must be postgres:// or postgresql://")
        }
        guard let user = try decoded(components.percentEncodedUser, "user name"), !user.isEmpty else {
            throw .configuration("invalid PostgreSQL URL: missing user name (postgres://user:password@host/database)")
        }
        let password = try decoded(components.percentEncodedPassword, "password")
        // IPv6 hosts are bracketed: [::1]:5432
        guard var host = components.percentEncodedHost, !host.isEmpty else {
            throw .configuration("invalid PostgreSQL URL: missing host")
        }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let port = components.port ?? Self.defaultPort
        guard (1...65535).contains(port) else {
            throw .configuration("invalid PostgreSQL URL: the port must be a number from 1 to 65535")
        }
        let endpoints = hostList ?? [Endpoint(host: host, port: port)]
        guard let database = try decoded(String(components.percentEncodedPath.dropFirst()), "database name"), !database.isEmpty else {
            throw .configuration("invalid PostgreSQL URL: missing database name (postgres://user:password@host/database)")
        }

        var applicationName: String?
        var connectTimeout = Self.defaultConnectTimeout
        var options: [String: String] = [:]
        for item in components.percentEncodedQueryItems ?? [] where !(item.name.isEmpty && item.value == nil) {
            let key = try decoded(item.name, "query parameter name") ?? ""
            let value = try decoded(item.value ?? "", "query parameter \(key)") ?? ""
            switch key {
            case "application_name":
                applicationName = value
            case "connect_timeout":
                guard let seconds = Int(value), seconds >= 0 else {
                    throw .configuration("invalid PostgreSQL URL: connect_timeout must be a whole number of seconds")
                }
                connectTimeout = seconds
            case "target_session_attrs":
                guard Self.targetSessionAttributes.contains(value) else {
                    throw .configuration(
                        "invalid PostgreSQL URL: target_session_attrs must be one of "
                            + Self.targetSessionAttributes.sorted().joined(separator: ", "))
                }
                options[key] = value
            case "host", "hostaddr", "port", "user", "password", "dbname", "passfile", "service":
                throw .configuration("invalid PostgreSQL URL: query parameter \(key) is not supported; put it in the URL itself")
            case "":
                throw .configuration("invalid PostgreSQL URL: empty query parameter name")
            default:
                options[key] = value
            }
        }

        self.init(
            endpoints: endpoints, user: user, password: password, database: database,
            applicationName: applicationName, connectTimeout: connectTimeout, options: options)
    }

    /// The URL with the password replaced by `***`, for logs.
    public var redactedURL: String {
        var url = "postgres://" + Self.percentEncoded(user)
        // The password never enters the text: a redaction after the fact would
        // depend on the encoding keeping its `:` and `@` apart.
        if password != nil { url += ":" + URLRedaction.mask }
        url += "@" + endpoints.map { ($0.host.contains(":") ? "[\($0.host)]" : $0.host) + ":\($0.port)" }.joined(separator: ",")
        url += "/" + Self.percentEncoded(database)
        var items: [(String, String)] = []
        if let applicationName { items.append(("application_name", applicationName)) }
        items.append(("connect_timeout", String(connectTimeout)))
        items += options.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        url += "?" + items.map { Self.percentEncoded($0.0) + "=" + Self.percentEncoded($0.1) }.joined(separator: "&")
        return url
    }

    /// The keyword/value pairs handed to `PQconnectdbParams`.
    ///
    /// Sessions always use UTF-8, ISO date output and UTC, so text values
    /// decode the same way whatever the server's defaults are. A
    /// user-supplied `options` keyword is appended (later `-c` settings win).
    var libpqParameters: [(String, String)] {
        var parameters: [(String, String)] = [
            // libpq's lists: the nth port belongs to the nth host.
            ("host", endpoints.map(\.host).joined(separator: ",")),
            ("port", endpoints.map { String($0.port) }.joined(separator: ",")),
            ("user", user),
            ("dbname", database),
            ("connect_timeout", String(connectTimeout)),
            ("client_encoding", "UTF8"),
        ]
        if let password { parameters.append(("password", password)) }
        if let applicationName { parameters.append(("application_name", applicationName)) }
        var serverOptions = "-c DateStyle=ISO -c TimeZone=UTC -c IntervalStyle=postgres"
        for (key, value) in options.sorted(by: { $0.key < $1.key }) {
            switch key {
            case "options": serverOptions += " " + value
            case "client_encoding": continue
            default: parameters.append((key, value))
            }
        }
        parameters.append(("options", serverOptions))
        return parameters
    }

    /// Where the host list of a URL is: after the user info (up to the last
    /// `@`, libpq's rule) and before the path, query or fragment; nil for a URL without hosts.
    private static func hostListRange(in text: String) -> Range<String.Index>? {
        guard let schemeEnd = text.firstRange(of: "://")?.upperBound else { return nil }
        let authorityEnd = text[schemeEnd...].firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? text.endIndex
        let start = text[schemeEnd..<authorityEnd].lastIndex(of: "@").map { text.index(after: $0) } ?? schemeEnd
        return start..<authorityEnd
    }

    /// One `host[:port]` of a host list, checked as the host of a one-host URL would be.
    private static func endpoint(_ item: String) throws(PostgresError) -> Endpoint {
        guard let components = URLComponents(string: "postgres://u@\(item)/d"), var host = components.percentEncodedHost, !host.isEmpty else {
            throw .configuration(
                item.contains("[") && !item.contains("]")
                    ? "invalid PostgreSQL URL: unterminated IPv6 address in the host list"
                    : "invalid PostgreSQL URL: a host or port in the host list is malformed (a port must be a number from 1 to 65535)")
        }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let port = components.port ?? defaultPort
        guard (1...65535).contains(port) else {
            throw .configuration("invalid PostgreSQL URL: the port must be a number from 1 to 65535")
        }
        return Endpoint(host: host, port: port)
    }

    /// RFC 3986's unreserved characters: everything else is percent-encoded.
    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    private static func percentEncoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }
}

extension StringProtocol where SubSequence == Substring {
    var trimmingWhitespace: Substring {
        guard let first = firstIndex(where: { !$0.isWhitespace }),
              let last = lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return self[first...last]
    }
}
