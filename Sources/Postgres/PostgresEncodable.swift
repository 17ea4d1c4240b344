import Foundation
import TextCodecs

/// A Swift value that can be sent as a text-format query parameter.
///
/// Parameters are sent untyped (OID 0), so the server infers each type from
/// its use; add a cast (`$1::bigint`, `$1::uuid`) where the context does not
/// say (`SELECT $1`, arithmetic).
public protocol PostgresEncodable: Sendable {
    /// The parameter in PostgreSQL's text input format; `nil` is SQL NULL.
    var postgresText: String? { get }
}

/// An explicit SQL NULL, for call sites where `nil` has no type: `query(sql, PostgresNull())`.
public struct PostgresNull: PostgresEncodable, Hashable {
    public init() {}
    public var postgresText: String? { nil }
}

extension String: PostgresEncodable {
    public var postgresText: String? { self }
}

extension Substring: PostgresEncodable {
    public var postgresText: String? { String(self) }
}

extension Int: PostgresEncodable {
    public var postgresText: String? { String(self) }
}

extension Int16: PostgresEncodable {
    public var postgresText: String? { String(self) }
}

extension Int32: PostgresEncodable {
    public var postgresText: String? { String(self) }
}

extension Int64: PostgresEncodable {
    public var postgresText: String? { String(self) }
}

extension Bool: PostgresEncodable {
    public var postgresText: String? { self ? "t" : "f" }
}

extension Double: PostgresEncodable {
    /// Shortest text that reads back as the same `Double`; `NaN`, `Infinity`, `-Infinity`.
    public var postgresText: String? {
        if isNaN { return "NaN" }
        if isInfinite { return self < 0 ? "-Infinity" : "Infinity" }
        return String(self)
    }
}

extension Decimal: PostgresEncodable {
    public var postgresText: String? {
        description  // locale-independent: "-12.345", "NaN"
    }
}

extension UUID: PostgresEncodable {
    public var postgresText: String? { UUIDText.string(self) }
}

extension Date: PostgresEncodable {
    /// ISO 8601 in UTC with microseconds, e.g. `2026-11-21 00:42:09.123000+00`, for `timestamptz`
    /// (rounded to the microsecond, the column's precision).
    public var postgresText: String? {
        let micros = Int64((timeIntervalSince1970 * 1_000_000).rounded())
        let (seconds, micro) = CivilCalendar.floorDivide(micros, 1_000_000)
        return TimestampText.postgres.string(seconds: seconds, nanoseconds: micro * 1000)
    }
}

extension Data: PostgresEncodable {
    /// `bytea` hex input format: `\x0001ff`.
    public var postgresText: String? { ByteaText.format(self) }
}

extension Array: PostgresEncodable where Element == UInt8 {
    /// `bytea` hex input format: `\x0001ff`.
    public var postgresText: String? { ByteaText.format(self) }
}

extension Optional: PostgresEncodable where Wrapped: PostgresEncodable {
    public var postgresText: String? {
        switch self {
        case .none: nil
        case .some(let value): value.postgresText
        }
    }
}

enum ByteaText {
    private static let digits = Array("0123456789abcdef".utf8)

    static func format<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var utf8: [UInt8] = [UInt8(ascii: "\\"), UInt8(ascii: "x")]
        utf8.reserveCapacity(2 + bytes.underestimatedCount * 2)
        for byte in bytes {
            utf8.append(digits[Int(byte >> 4)])
            utf8.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: utf8, as: UTF8.self)
    }

    /// Parses the `bytea` hex output format (`\x…`), the server's default.
    static func parse(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count >= 2, utf8[0] == UInt8(ascii: "\\"), utf8[1] == UInt8(ascii: "x"),
              utf8.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity((utf8.count - 2) / 2)
        var index = 2
        while index < utf8.count {
            guard let high = hexDigitValue(utf8[index]), let low = hexDigitValue(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

}
