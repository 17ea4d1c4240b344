import Foundation
import TextCodecs

/// How the message contracts write what JSON has no type for.
public enum MessageCoding {
    /// For Codable types written outside the hot paths (problem bodies,
    /// `orderctl orders show`): the same key order, slashes and dates as the
    /// hand-written message encoders.
    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(formatDate(date))
        }
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    private static let unixToReference: Int64 = 978_307_200

    /// `2026-11-21T03:04:05.123Z`: UTC, milliseconds, as Foundation's ISO 8601
    /// format style writes it.
    public static func formatDate(_ date: Date) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        appendDate(date, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The bytes of `formatDate(date)`.
    static func appendDate(_ date: Date, to bytes: inout [UInt8]) {
        if !fastAppendDate(date, to: &bytes) {
            bytes.append(contentsOf: foundationFormatDate(date).utf8)
        }
    }

    /// ISO 8601 with or without fractional seconds.
    public static func parseDate(_ text: String) -> Date? {
        fastParseDate(text) ?? foundationParseDate(text)
    }

    /// `TimestampText.message` for the years it takes (false, appending
    /// nothing, for the others).
    static func fastAppendDate(_ date: Date, to bytes: inout [UInt8]) -> Bool {
        let interval = date.timeIntervalSinceReferenceDate
        guard interval.isFinite, interval.magnitude < 1e12 else { return false }
        let (seconds, milliseconds) = split(interval)
        guard milliseconds <= 999 else { return false }
        return TimestampText.message.append(seconds: seconds + unixToReference, nanoseconds: milliseconds * 1_000_000, to: &bytes)
    }

    /// `TimestampText.message`'s reading as a Date that formats back to the same text.
    static func fastParseDate(_ text: String) -> Date? {
        guard let (seconds1970, nanoseconds) = TimestampText.message.parse(text) else { return nil }
        let seconds = seconds1970 - unixToReference
        var interval = Double(seconds) + Double(nanoseconds) / 1_000_000_000
        // The nearest Double may sit just below the text's millisecond, which
        // formatting would truncate to the one before: step up (by an ulp or
        // two) so that formatting gives back the same text.
        let wanted = (seconds, nanoseconds / 1_000_000)
        for _ in 0..<4 where split(interval) < wanted {
            interval = interval.nextUp
        }
        return Date(timeIntervalSinceReferenceDate: interval)
    }

    /// Whole seconds since 2001 and milliseconds, as Foundation's formatter
    /// takes them: the fraction as whole nanoseconds, truncated to
    /// milliseconds (so `.123`, stored as `.12299…`, prints `.122`), which
    /// keeps every date's text what Foundation would write.
    private static func split(_ interval: Double) -> (seconds: Int64, milliseconds: Int64) {
        let whole = interval.rounded(.down)
        let nanoseconds = Int64((interval - whole) * 1_000_000_000)
        return (Int64(whole), nanoseconds / 1_000_000)
    }

    /// For the years `TimestampText.message` leaves out (before 1583, where
    /// Foundation's Gregorian calendar is Julian, and after 9999), so that
    /// every date still has Foundation's text.
    static func foundationFormatDate(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }

    /// For whatever `TimestampText.message` does not take: other years, and
    /// the ISO 8601 forms a producer other than these services might write.
    static func foundationParseDate(_ text: String) -> Date? {
        (try? Date(text, strategy: .iso8601.year().month().day().time(includingFractionalSeconds: true)))
            ?? (try? Date(text, strategy: .iso8601))
    }
}

extension JSONWriter {
    /// `MessageCoding.formatDate(date)` as a JSON string (it never needs escaping).
    public mutating func date(_ date: Date) {
        bytes.append(UInt8(ascii: "\""))
        MessageCoding.appendDate(date, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }
}
