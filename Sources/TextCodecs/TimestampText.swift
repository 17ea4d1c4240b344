/// The timestamp texts the services read and write, as whole seconds since
/// 1970-01-01 UTC and nanoseconds: one scanner and one writer, and a layout
/// per use. By arithmetic, because Foundation's ISO 8601 format style and
/// calendars cost more than the rest of the work on the paths that write
/// these (every message, every log line, every timestamp parameter).
public struct TimestampText: Sendable {
    /// What the writer puts between date and time (`T` or a space).
    let separator: UInt8
    /// Fraction digits written; the fraction is truncated, not rounded.
    let fractionDigits: Int
    /// Written after the fraction: UTC.
    let utcSuffix: StaticString
    /// PostgreSQL's forms: a space or `T`, the time or the seconds left out,
    /// hour 24, second 60, a zone left out or written `±HH`, `±HHMM`,
    /// `±HH:MM:SS`, years of 4 to 7 digits and ` BC`. Without it, only the
    /// ISO 8601 subset JSON messages carry: `YYYY-MM-DDTHH:MM:SS[.f](Z|±HH:MM)`,
    /// each field in its calendar range.
    let lenient: Bool
    /// The years read and written; outside them `parse` and `append` refuse.
    public let years: ClosedRange<Int64>

    /// Message dates: `2026-11-21T03:04:05.123Z`. Before 1583 Foundation's
    /// Gregorian calendar is Julian, and beyond 9999 the year needs more
    /// digits: `MessageCoding` leaves those years to Foundation, so a date
    /// reads and prints as Foundation's ISO 8601 style does.
    public static let message = TimestampText(
        separator: UInt8(ascii: "T"), fractionDigits: 3, utcSuffix: "Z", lenient: false, years: 1583...9999)
    /// Log lines: `2026-11-21T03:04:05.123456Z`.
    public static let log = TimestampText(
        separator: UInt8(ascii: "T"), fractionDigits: 6, utcSuffix: "Z", lenient: false, years: .min ... .max)
    /// PostgreSQL's ISO output (`DateStyle=ISO`) and input: `2026-11-21 00:42:09.123456+00`.
    public static let postgres = TimestampText(
        separator: UInt8(ascii: " "), fractionDigits: 6, utcSuffix: "+00", lenient: true, years: .min ... .max)

    // MARK: Writing

    /// Appends the UTC text of `seconds` since 1970 and `nanoseconds` (0..<1e9).
    /// Years before 1 get PostgreSQL's ` BC` suffix in the lenient layout; the
    /// others write the proleptic year as is. False, appending nothing, for a
    /// year outside `years`.
    @discardableResult
    public func append(seconds: Int64, nanoseconds: Int64, to bytes: inout [UInt8]) -> Bool {
        let (year, month, day, secondOfDay) = CivilCalendar.civil(fromSecondsSince1970: seconds)
        guard years.contains(year) else { return false }
        let isBC = lenient && year <= 0
        Self.appendDigits(isBC ? 1 - year : year, count: 4, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        Self.appendDigits(month, count: 2, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        Self.appendDigits(day, count: 2, to: &bytes)
        bytes.append(separator)
        Self.appendDigits(secondOfDay / 3600, count: 2, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        Self.appendDigits(secondOfDay / 60 % 60, count: 2, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        Self.appendDigits(secondOfDay % 60, count: 2, to: &bytes)
        bytes.append(UInt8(ascii: "."))
        var fraction = nanoseconds
        for _ in fractionDigits..<9 { fraction /= 10 }
        Self.appendDigits(fraction, count: fractionDigits, to: &bytes)
        bytes.append(contentsOf: UnsafeBufferPointer(start: utcSuffix.utf8Start, count: utcSuffix.utf8CodeUnitCount))
        if isBC { bytes.append(contentsOf: " BC".utf8) }
        return true
    }

    /// The text of `append`, or nil for a year outside `years`.
    public func string(seconds: Int64, nanoseconds: Int64) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(36)
        guard append(seconds: seconds, nanoseconds: nanoseconds, to: &bytes) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends a non-negative `value` in decimal, zero-padded to at least `count` digits.
    static func appendDigits(_ value: Int64, count: Int, to bytes: inout [UInt8]) {
        var divisor: Int64 = 1
        var width = 1
        while width < count || value / divisor >= 10 {
            divisor *= 10
            width += 1
        }
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(value / divisor % 10))
            divisor /= 10
        }
    }

    // MARK: Reading

    /// The instant `text` names, as seconds since 1970 and nanoseconds
    /// (fraction digits beyond nine are refused), or nil when the layout does
    /// not take the text. A text without a zone is UTC; a date alone is its
    /// midnight UTC. `infinity` is not a timestamp here: PostgreSQL callers
    /// handle it first.
    public func parse(_ text: String) -> (seconds: Int64, nanoseconds: Int64)? {
        var text = text
        return text.withUTF8 { parse(Scanner(bytes: $0)) }
    }

    private func parse(_ input: Scanner) -> (seconds: Int64, nanoseconds: Int64)? {
        var scanner = input
        let isBC = lenient && scanner.dropSuffix(" BC")
        guard var year = scanner.number(digits: lenient ? 4...7 : 4...4), scanner.take("-"),
              let month = scanner.number(digits: 2...2), scanner.take("-"),
              let day = scanner.number(digits: 2...2), years.contains(year), (1...12).contains(month),
              day >= 1, day <= (lenient ? 31 : CivilCalendar.daysIn(month: month, year: year))
        else { return nil }
        if isBC { year = 1 - year }

        var secondOfDay: Int64 = 0
        var nanoseconds: Int64 = 0
        var offset: Int64 = 0
        if !(lenient && scanner.isAtEnd) {
            guard scanner.take("T") || (lenient && scanner.take(" ")),
                  let hour = scanner.number(digits: 2...2), scanner.take(":"),
                  let minute = scanner.number(digits: 2...2) else { return nil }
            var second: Int64 = 0
            if scanner.take(":") {
                guard let value = scanner.number(digits: 2...2) else { return nil }
                second = value
                if scanner.take(".") {
                    guard let fraction = scanner.digits(max: 9), !scanner.isDigit else { return nil }
                    nanoseconds = fraction.value
                    for _ in fraction.count..<9 { nanoseconds *= 10 }
                }
            } else if !lenient {
                return nil
            }
            guard hour <= (lenient ? 24 : 23), minute <= 59, second <= (lenient ? 60 : 59) else { return nil }
            secondOfDay = hour * 3600 + minute * 60 + second

            if scanner.take("Z") {
                offset = 0
            } else if let sign = scanner.takeSign() {
                guard let zone = lenient ? scanner.postgresZone() : scanner.isoZone() else { return nil }
                offset = sign * zone
            } else if !lenient {
                return nil
            }
            guard scanner.isAtEnd else { return nil }
        }
        let seconds = CivilCalendar.days(fromCivil: year, month, day) * 86_400 + secondOfDay - offset
        return (seconds, nanoseconds)
    }

    private struct Scanner {
        var bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        var isAtEnd: Bool { index == bytes.count }
        var isDigit: Bool { index < bytes.count && Self.digit(bytes[index]) != nil }

        @inline(__always)
        static func digit(_ byte: UInt8) -> Int64? {
            byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") ? Int64(byte - UInt8(ascii: "0")) : nil
        }

        mutating func dropSuffix(_ suffix: StaticString) -> Bool {
            let count = suffix.utf8CodeUnitCount
            guard bytes.count >= count,
                  UnsafeBufferPointer(start: suffix.utf8Start, count: count).elementsEqual(bytes[(bytes.count - count)...])
            else { return false }
            bytes = UnsafeBufferPointer(rebasing: bytes[..<(bytes.count - count)])
            return true
        }

        mutating func take(_ character: Unicode.Scalar) -> Bool {
            guard index < bytes.count, bytes[index] == UInt8(ascii: character) else { return false }
            index += 1
            return true
        }

        mutating func takeSign() -> Int64? {
            if take("+") { return 1 }
            if take("-") { return -1 }
            return nil
        }

        mutating func digits(max: Int) -> (value: Int64, count: Int)? {
            var value: Int64 = 0
            var count = 0
            while index < bytes.count, count < max, let digit = Self.digit(bytes[index]) {
                value = value * 10 + digit
                index += 1
                count += 1
            }
            return count == 0 ? nil : (value, count)
        }

        mutating func number(digits range: ClosedRange<Int>) -> Int64? {
            guard let parsed = digits(max: range.upperBound), parsed.count >= range.lowerBound else { return nil }
            return parsed.value
        }

        /// `HH:MM` after the sign, in range, as seconds.
        mutating func isoZone() -> Int64? {
            guard let hours = number(digits: 2...2), take(":"), let minutes = number(digits: 2...2),
                  hours <= 23, minutes <= 59 else { return nil }
            return hours * 3600 + minutes * 60
        }

        /// `HH`, `HHMM`, `HH:MM` or `HH:MM:SS` after the sign, as seconds.
        mutating func postgresZone() -> Int64? {
            guard let hours = number(digits: 2...2) else { return nil }
            var minutes: Int64 = 0
            var seconds: Int64 = 0
            if take(":") {
                guard let value = number(digits: 2...2) else { return nil }
                minutes = value
                if take(":") {
                    guard let value = number(digits: 2...2) else { return nil }
                    seconds = value
                }
            } else if let value = number(digits: 2...2) {
                minutes = value
            }
            return hours * 3600 + minutes * 60 + seconds
        }
    }
}
