import TextCodecs

/// Where and how to connect, parsed from a URL such as
/// `postgres://user:pass@host:5432/db?sslmode=disable&application_name=x&connect_timeout=5`.
///
/// User, password and database are percent-decoded. The port defaults to
/// 5432, `connect_timeout` to 10 seconds. Any other query item is passed to
/// libpq as a connection keyword (`sslmode`, `target_session_attrs`, …);
/// libpq rejects unknown ones when connecting.
public struct PostgresConfiguration: Sendable, Hashable {
    public var host: String
    public var port: Int
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

    public init(
        host: String,
        port: Int = PostgresConfiguration.defaultPort,
        user: String,
        password: String?,
        database: String,
        applicationName: String? = nil,
        connectTimeout: Int = PostgresConfiguration.defaultConnectTimeout,
        options: [String: String] = [:]
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.applicationName = applicationName
        self.connectTimeout = connectTimeout
        self.options = options
    }

    /// Parses a `postgres://` or `postgresql://` URL. Errors name the part
    /// that is wrong and never repeat the URL or the password.
    public init(url: String) throws(PostgresError) {
        var rest = Substring(url.trimmingWhitespace)
        guard let schemeEnd = rest.firstRange(of: "://") else {
            throw .configuration("invalid PostgreSQL URL: expected postgres://user:password@host:port/database")
        }
        let scheme = rest[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "postgres" || scheme == "postgresql" else {
            throw .configuration("invalid PostgreSQL URL: the scheme must be postgres:// or postgresql://")
        }
        rest = rest[schemeEnd.upperBound...]
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }

        // authority ends at the first "/" or "?"
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        rest = rest[authorityEnd...]

        // user info: everything before the last "@"
        var user: String?
        var password: String?
        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            authority = authority[authority.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                user = try Self.percentDecoded(userInfo[..<colon], part: "user name")
                password = try Self.percentDecoded(userInfo[userInfo.index(after: colon)...], part: "password")
            } else {
                user = try Self.percentDecoded(userInfo, part: "user name")
            }
        }
        guard let user, !user.isEmpty else {
            throw .configuration("invalid PostgreSQL URL: missing user name (postgres://user:password@host/database)")
        }

        // host and port; IPv6 hosts are bracketed: [::1]:5432
        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw .configuration("invalid PostgreSQL URL: unterminated IPv6 address in host")
            }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let afterHost = authority[authority.index(after: close)...]
            if !afterHost.isEmpty {
                guard afterHost.hasPrefix(":") else {
                    throw .configuration("invalid PostgreSQL URL: unexpected text after IPv6 host")
                }
                portText = afterHost.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        guard !host.isEmpty else { throw .configuration("invalid PostgreSQL URL: missing host") }
        var port = Self.defaultPort
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else {
                throw .configuration("invalid PostgreSQL URL: the port must be a number from 1 to 65535")
            }
            port = value
        }

        // database
        var database = ""
        if rest.hasPrefix("/") {
            let pathEnd = rest.firstIndex(of: "?") ?? rest.endIndex
            database = try Self.percentDecoded(rest[rest.index(after: rest.startIndex)..<pathEnd], part: "database name")
            rest = rest[pathEnd...]
        }
        guard !database.isEmpty else {
            throw .configuration("invalid PostgreSQL URL: missing database name (postgres://user:password@host/database)")
        }

        // query items
        var applicationName: String?
        var connectTimeout = Self.defaultConnectTimeout
        var options: [String: String] = [:]
        if rest.hasPrefix("?") {
            for item in rest.dropFirst().split(separator: "&", omittingEmptySubsequences: true) {
                let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = try Self.percentDecoded(pair[0], part: "query parameter name")
                let value = pair.count > 1 ? try Self.percentDecoded(pair[1], part: "query parameter \(key)") : ""
                switch key {
                case "application_name":
                    applicationName = value
                case "connect_timeout":
                    guard let seconds = Int(value), seconds >= 0 else {
                        throw .configuration("invalid PostgreSQL URL: connect_timeout must be a whole number of seconds")
                    }
                    connectTimeout = seconds
                case "host", "hostaddr", "port", "user", "password", "dbname", "passfile", "service":
                    throw .configuration("invalid PostgreSQL URL: query parameter \(key) is not supported; put it in the URL itself")
                case "":
                    throw .configuration("invalid PostgreSQL URL: empty query parameter name")
                default:
                    options[key] = value
                }
            }
        }

        self.init(
            host: String(host), port: port, user: user, password: password, database: database,
            applicationName: applicationName, connectTimeout: connectTimeout, options: options)
    }

    /// The URL with the password replaced by `***`, for logs.
    public var redactedURL: String {
        var url = "postgres://" + Self.percentEncoded(user)
        if password != nil { url += ":***" }
        url += "@" + (host.contains(":") ? "[\(host)]" : host) + ":\(port)/" + Self.percentEncoded(database)
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
            ("host", host),
            ("port", String(port)),
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

    private static func percentDecoded(_ text: Substring, part: String) throws(PostgresError) -> String {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexDigitValue), let low = iterator.next().flatMap(hexDigitValue) else {
                throw .configuration("invalid PostgreSQL URL: bad percent-encoding in the \(part)")
            }
            bytes.append(high << 4 | low)
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else {
            throw .configuration("invalid PostgreSQL URL: the \(part) is not valid UTF-8 after percent-decoding")
        }
        return decoded
    }

    private static func percentEncoded(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "~"):
                result.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                result += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return result
    }
}

extension StringProtocol where SubSequence == Substring {
    var trimmingWhitespace: Substring {
        guard let first = firstIndex(where: { !$0.isWhitespace }),
              let last = lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return self[first...last]
    }
}
