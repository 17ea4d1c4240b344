import Foundation
import TextCodecs

/// A Swift value that can be read from a text-format result column.
///
/// `Optional` conforms when its wrapped type does, so
/// `row.decode(0, as: String?.self)` reads SQL NULL as `nil`, while
/// `row.decode(0, as: String.self)` throws a decoding error naming the column.
public protocol PostgresDecodable {
    /// Reads a non-NULL value from PostgreSQL's text output format.
    init(postgresText: String) throws(PostgresError)

    /// Reads a value that may be SQL NULL (`text == nil`). The default
    /// implementation rejects NULL; `Optional` maps it to `nil`.
    static func decode(postgresText text: String?, column: String) throws(PostgresError) -> Self
}

extension PostgresDecodable {
    public static func decode(postgresText text: String?, column: String) throws(PostgresError) -> Self {
        guard let text else {
            throw .decoding("column \"\(column)\" is NULL; decode it as \(Self.self)? to accept NULL")
        }
        do {
            return try Self(postgresText: text)
        } catch {
            throw PostgresError(kind: .decoding, message: "column \"\(column)\": \(error.message)")
        }
    }
}

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    public init(postgresText: String) throws(PostgresError) {
        self = .some(try Wrapped(postgresText: postgresText))
    }

    public static func decode(postgresText text: String?, column: String) throws(PostgresError) -> Self {
        guard let text else { return nil }
        return try Wrapped.decode(postgresText: text, column: column)
    }
}

extension String: PostgresDecodable {
    public init(postgresText: String) { self = postgresText }
}

extension Int: PostgresDecodable {
    public init(postgresText: String) throws(PostgresError) {
        guard let value = Int(postgresText) else { throw .cannotDecode(Self.self) }
        self = value
    }
}

extension Int16: PostgresDecodable {
    public init(postgresText: String) throws(PostgresError) {
        guard let value = Int16(postgresText) else { throw .cannotDecode(Self.self) }
        self = value
    }
}

extension Int32: PostgresDecodable {
    public init(postgresText: String) throws(PostgresError) {
        guard let value = Int32(postgresText) else { throw .cannotDecode(Self.self) }
        self = value
    }
}

extension Int64: PostgresDecodable {
    public init(postgresText: String) throws(PostgresError) {
        guard let value = Int64(postgresText) else { throw .cannotDecode(Self.self) }
        self = value
    }
}

extension Bool: PostgresDecodable {
    /// Accepts the server's `t` / `f` and `true` / `false`.
    public init(postgresText: String) throws(PostgresError) {
        switch postgresText {
        case "t", "true": self = true
        case "f", "false": self = false
        default: throw .cannotDecode(Self.self)
        }
    }
}

extension Double: PostgresDecodable {
    public init(postgresText: String) throws(PostgresError) {
        switch postgresText {
        case "NaN": self = .nan
        case "Infinity": self = .infinity
        case "-Infinity": self = -.infinity
        default:
            guard let value = Double(postgresText) else { throw .cannotDecode(Self.self) }
            self = value
        }
    }
}

extension Decimal: PostgresDecodable {
    public init(postgresText: String) throws(PostgresError) {
        guard let value = Decimal(string: postgresText, locale: Locale(identifier: "en_US_POSIX")) else {
            throw .cannotDecode(Self.self)
        }
        self = value
    }
}

extension UUID: PostgresDecodable {
    /// Reads the server's `uuid` output (8-4-4-4-12, hex in either case)
    /// with `UUIDText` rather than `UUID(uuidString:)`, which goes through `sscanf` on Linux.
    public init(postgresText: String) throws(PostgresError) {
        guard let value = UUIDText.parse(postgresText) else { throw .cannotDecode(Self.self) }
        self = value
    }
}

extension Date: PostgresDecodable {
    /// Reads `timestamptz`, `timestamp` (as UTC) and `date` (midnight UTC) output,
    /// microseconds at most (the column's precision); `infinity` and `-infinity`
    /// as `distantFuture` and `distantPast`.
    public init(postgresText: String) throws(PostgresError) {
        switch postgresText {
        case "infinity": self = .distantFuture
        case "-infinity": self = .distantPast
        default:
            guard let (seconds, nanoseconds) = TimestampText.postgres.parse(postgresText) else { throw .cannotDecode(Self.self) }
            self = Date(timeIntervalSince1970: Double(seconds) + Double(nanoseconds / 1000) / 1_000_000)
        }
    }
}

extension Data: PostgresDecodable {
    /// Reads `bytea` in the hex output format (`\x…`).
    public init(postgresText: String) throws(PostgresError) {
        guard let bytes = ByteaText.parse(postgresText) else { throw .cannotDecode(Self.self) }
        self = Data(bytes)
    }
}

extension Array: PostgresDecodable where Element == UInt8 {
    /// Reads `bytea` in the hex output format (`\x…`).
    public init(postgresText: String) throws(PostgresError) {
        guard let bytes = ByteaText.parse(postgresText) else { throw .cannotDecode(Self.self) }
        self = bytes
    }
}

extension PostgresError {
    /// The value itself is not repeated: it may be sensitive.
    static func cannotDecode(_ type: Any.Type) -> PostgresError {
        .decoding("cannot decode the text value as \(type)")
    }
}
