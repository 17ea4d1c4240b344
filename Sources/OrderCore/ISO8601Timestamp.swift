import Foundation
import TextCodecs

/// `MessageCoding`'s timestamps (`2026-11-21T03:04:05.123Z`) by arithmetic,
/// because Foundation's ISO 8601 format style dominated encoding time on Linux.
enum ISO8601Timestamp {
    /// Years handled here. Before 1583 Foundation's Gregorian calendar is
    /// Julian, and beyond 9999 the year needs more digits: both go to
    /// Foundation, so the text stays exactly what it was.
    static let fastYears: ClosedRange<Int64> = 1583...9999

    private static let unixToReference: Int64 = 978_307_200
    private static let secondsPerDay: Int64 = 86_400

    /// Appends the 24 bytes of `date` in UTC with milliseconds, or returns false
    /// (appending nothing) when the year is outside `fastYears`.
    static func append(_ date: Date, to bytes: inout [UInt8]) -> Bool {
        let interval = date.timeIntervalSinceReferenceDate
        guard interval.isFinite, interval.magnitude < 1e12 else { return false }
        let (seconds, milliseconds) = split(interval)
        guard milliseconds <= 999 else { return false }

        let (year, month, day, secondOfDay) = CivilCalendar.civil(fromSecondsSince1970: seconds + unixToReference)
        guard fastYears.contains(year) else { return false }

        CivilCalendar.appendDateTime(
            year: year, month: month, day: day, secondOfDay: secondOfDay, separator: UInt8(ascii: "T"),
            fraction: milliseconds, fractionDigits: 3, to: &bytes)
        bytes.append(UInt8(ascii: "Z"))
        return true
    }

    /// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` with a year in `fastYears`;
    /// nil for anything else (the caller falls back to Foundation). Fraction
    /// digits beyond nanoseconds are ignored.
    static func parse(_ text: String) -> Date? {
        var text = text
        return text.withUTF8(parse)
    }

    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> Date? {
        guard bytes.count >= 20, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T"),
              bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
              let year = number(bytes, 0, 4), let month = number(bytes, 5, 2), let day = number(bytes, 8, 2),
              let hour = number(bytes, 11, 2), let minute = number(bytes, 14, 2), let second = number(bytes, 17, 2),
              fastYears.contains(year), (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year),
              hour <= 23, minute <= 59, second <= 59
        else { return nil }

        var index = 19
        var nanoseconds: Int64 = 0
        if bytes[index] == UInt8(ascii: ".") {
            index += 1
            let fractionStart = index
            var scale: Int64 = 100_000_000
            while index < bytes.count, let digit = digit(bytes[index]) {
                nanoseconds += digit * scale
                scale /= 10
                index += 1
            }
            // Foundation takes 1 to 9 digits (and rejects more).
            guard (1...9).contains(index - fractionStart) else { return nil }
        }
        guard index < bytes.count else { return nil }
        var offset: Int64 = 0
        switch bytes[index] {
        case UInt8(ascii: "Z"):
            index += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard index + 6 <= bytes.count, bytes[index + 3] == UInt8(ascii: ":"),
                  let hours = number(bytes, index + 1, 2), let minutes = number(bytes, index + 4, 2),
                  hours <= 23, minutes <= 59 else { return nil }
            offset = (hours * 3600 + minutes * 60) * (bytes[index] == UInt8(ascii: "-") ? -1 : 1)
            index += 6
        default:
            return nil
        }
        guard index == bytes.count else { return nil }

        let seconds = CivilCalendar.days(fromCivil: year, month, day) * secondsPerDay + hour * 3600 + minute * 60 + second - offset - unixToReference
        var interval = Double(seconds) + Double(nanoseconds) / 1_000_000_000
        // The nearest Double may sit just below the text's millisecond, which
        // `append` would truncate to the one before: step up (by an ulp or two)
        // so that formatting gives back the same text.
        let wanted = (seconds, nanoseconds / 1_000_000)
        for _ in 0..<4 where split(interval) < wanted {
            interval = interval.nextUp
        }
        return Date(timeIntervalSinceReferenceDate: interval)
    }

    /// Whole seconds since 2001 and milliseconds, as Foundation's formatter
    /// took them: the fraction as whole nanoseconds, truncated to milliseconds
    /// (so `.123`, stored as `.12299…`, prints `.122`, as it always did).
    private static func split(_ interval: Double) -> (seconds: Int64, milliseconds: Int64) {
        let whole = interval.rounded(.down)
        let nanoseconds = Int64((interval - whole) * 1_000_000_000)
        return (Int64(whole), nanoseconds / 1_000_000)
    }

    // MARK: - Helpers

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    @inline(__always)
    private static func digit(_ byte: UInt8) -> Int64? {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") ? Int64(byte - UInt8(ascii: "0")) : nil
    }

    private static func number(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ count: Int) -> Int64? {
        var value: Int64 = 0
        for index in start..<start + count {
            guard let digit = digit(bytes[index]) else { return nil }
            value = value * 10 + digit
        }
        return value
    }
}
