/// An error from the PostgreSQL wrapper.
///
/// `description` is safe to log: it never contains the password, the query
/// text or parameter values. The server's DETAIL line (which carries row
/// values, e.g. `Key (id)=(42) already exists`) is only available through
/// ``unsafeDetail``, and for data exceptions (SQLSTATE class 22, whose
/// primary message quotes the offending input) and syntax errors (which
/// quote the SQL text) quoted text is masked in `description`; ``message``
/// keeps the server's text unchanged.
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    /// A SQLSTATE code. Open-ended: any five-character code can be represented.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(_ rawValue: String) { self.rawValue = rawValue }

        /// The two-character class, e.g. `"23"` for integrity constraint violations.
        public var errorClass: String { String(rawValue.prefix(2)) }
        public var description: String { rawValue }

        public static let uniqueViolation = Code("23505")
        public static let foreignKeyViolation = Code("23503")
        public static let checkViolation = Code("23514")
        public static let notNullViolation = Code("23502")
        public static let exclusionViolation = Code("23P01")
        public static let deadlockDetected = Code("40P01")
        public static let serializationFailure = Code("40001")
        public static let lockNotAvailable = Code("55P03")
        public static let queryCanceled = Code("57014")
        public static let tooManyConnections = Code("53300")
        public static let adminShutdown = Code("57P01")
        public static let crashShutdown = Code("57P02")
        public static let cannotConnectNow = Code("57P03")
        public static let undefinedTable = Code("42P01")
        public static let undefinedColumn = Code("42703")
        public static let syntaxError = Code("42601")
        public static let duplicateTable = Code("42P07")
        public static let duplicateDatabase = Code("42P04")
        public static let invalidTextRepresentation = Code("22P02")
        public static let numericValueOutOfRange = Code("22003")
        public static let divisionByZero = Code("22012")
        public static let inFailedSQLTransaction = Code("25P02")
        public static let invalidPassword = Code("28P01")
        public static let invalidAuthorizationSpecification = Code("28000")
        public static let invalidCatalogName = Code("3D000")
        public static let connectionFailure = Code("08006")
    }

    public enum Kind: Sendable, Hashable {
        /// Could not connect, or the connection was lost.
        case connection
        /// The server rejected the command; `code` holds the SQLSTATE.
        case server
        /// A result value could not be decoded into the requested Swift type.
        case decoding
        /// The configuration (URL) is not usable.
        case invalidConfiguration
        /// The wrapper was used in a way libpq or the protocol does not allow
        /// (unexpected result status, COPY, nested transaction, NUL in text …).
        case protocolViolation
    }

    public let kind: Kind
    public let code: Code?
    /// The server's primary message (`PG_DIAG_MESSAGE_PRIMARY`) or the wrapper's own message.
    public let message: String
    public let constraintName: String?
    public let tableName: String?
    public let columnName: String?
    public let schemaName: String?
    /// The server's DETAIL line. It can contain row and parameter values: do not log it.
    public let unsafeDetail: String?
    /// The server's HINT line, if any.
    public let hint: String?

    public init(
        kind: Kind,
        code: Code? = nil,
        message: String,
        constraintName: String? = nil,
        tableName: String? = nil,
        columnName: String? = nil,
        schemaName: String? = nil,
        unsafeDetail: String? = nil,
        hint: String? = nil
    ) {
        self.kind = kind
        self.code = code
        self.message = message
        self.constraintName = constraintName
        self.tableName = tableName
        self.columnName = columnName
        self.schemaName = schemaName
        self.unsafeDetail = unsafeDetail
        self.hint = hint
    }

    /// Worth retrying the whole unit of work (on a fresh connection when
    /// `kind == .connection`): lost or refused connections, deadlocks,
    /// serialization failures, lock and statement timeouts, too many
    /// connections, server shutdown / start-up. Authentication failures and
    /// unknown databases are not transient.
    public var isTransient: Bool {
        if let code {
            switch code {
            case .deadlockDetected, .serializationFailure, .lockNotAvailable, .queryCanceled,
                 .tooManyConnections, .adminShutdown, .crashShutdown, .cannotConnectNow:
                return true
            default:
                if code.errorClass == "08" { return true }
                if code.errorClass == "28" || code == .invalidCatalogName { return false }
            }
        }
        return kind == .connection
    }

    /// The database itself is away, not this unit of work: refused or lost
    /// connections (SQLSTATE class 08), a server shutting down or starting
    /// (57P01, 57P02, 57P03), too many connections (53300). A queue worker
    /// stops taking messages until it is back instead of spending retries;
    /// the other transient errors (deadlock, serialization failure, lock or
    /// statement timeout) belong to the unit of work and are retried as such.
    public var isUnavailable: Bool {
        if let code {
            switch code {
            case .adminShutdown, .crashShutdown, .cannotConnectNow, .tooManyConnections: return true
            default: if code.errorClass == "08" { return true }
            }
        }
        return kind == .connection
    }

    public var description: String {
        var text = "PostgreSQL \(kindLabel)"
        if let code { text += " \(code.rawValue)" }
        text += ": " + (quotesMayHoldInput ? Self.maskingQuotedText(message) : message)
        if let constraintName { text += " (constraint \(constraintName))" }
        else if let tableName { text += " (table \(tableName))" }
        return text
    }

    /// The cause alone, short enough for a health answer and safe to show
    /// (no password, no host): for a failed connection, libpq's reason without
    /// its "connection to server at … failed:" preamble and severity
    /// (`password authentication failed for user "orders"`, `Connection refused`,
    /// `database "x" does not exist`); for any other error, ``description``.
    public var reason: String {
        guard kind == .connection else { return description }
        var reasons: [String] = []
        for part in message.split(separator: "; ") {
            var text = part[...]
            if let preamble = text.firstRange(of: " failed: ") { text = text[preamble.upperBound...] }
            for severity in ["FATAL:", "ERROR:"] where text.hasPrefix(severity) { text = text.dropFirst(severity.count) }
            let reason = String(text.trimmingWhitespace)
            // libpq's hint after a refused connection ("Is the server running on that host …?") adds nothing.
            if reason.isEmpty || reason.hasPrefix("Is the server running") || reasons.contains(reason) { continue }
            reasons.append(reason)
        }
        return reasons.isEmpty ? message : reasons.joined(separator: "; ")
    }

    /// Data exceptions quote the offending input value; syntax errors quote
    /// a fragment of the SQL text ("at or near …").
    private var quotesMayHoldInput: Bool {
        code?.errorClass == "22" || code == .syntaxError
    }

    private var kindLabel: String {
        switch kind {
        case .connection: "connection error"
        case .server: "server error"
        case .decoding: "decoding error"
        case .invalidConfiguration: "configuration error"
        case .protocolViolation: "protocol error"
        }
    }

    /// Replaces the contents of double-quoted spans: `for type integer: "abc"` → `for type integer: "…"`.
    static func maskingQuotedText(_ text: String) -> String {
        var result = ""
        var inside = false
        for character in text {
            if character == "\"" {
                result.append(character)
                if !inside { result.append("…") }
                inside.toggle()
            } else if !inside {
                result.append(character)
            }
        }
        return result
    }
}

extension PostgresError {
    static func decoding(_ message: String) -> PostgresError {
        PostgresError(kind: .decoding, message: message)
    }

    static func configuration(_ message: String) -> PostgresError {
        PostgresError(kind: .invalidConfiguration, message: message)
    }

    static func protocolViolation(_ message: String) -> PostgresError {
        PostgresError(kind: .protocolViolation, message: message)
    }

    static let connectionClosed = PostgresError(
        kind: .connection, code: .connectionFailure, message: "the connection is closed")
}
