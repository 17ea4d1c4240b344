import Foundation
import TextCodecs

/// Formats and parses PostgreSQL's ISO timestamp text (`DateStyle=ISO`),
/// with microsecond precision, without Foundation's formatters (which are
/// slower and not needed for one fixed format).
enum TimestampText {
    /// `2026-11-21 00:42:09.123456+00` (UTC); years before 1 get PostgreSQL's ` BC` suffix.
    static func format(_ date: Date) -> String {
        let micros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        let (seconds, micro) = CivilCalendar.floorDivide(micros, 1_000_000)
        let (year, month, day, secondOfDay) = CivilCalendar.civil(fromSecondsSince1970: seconds)
        var text: [UInt8] = []
        text.reserveCapacity(35)
        CivilCalendar.appendDateTime(
            year: year <= 0 ? 1 - year : year, month: month, day: day, secondOfDay: secondOfDay, separator: UInt8(ascii: " "),
            fraction: micro, fractionDigits: 6, to: &text)
        text.append(contentsOf: "+00".utf8)
        if year <= 0 { text.append(contentsOf: " BC".utf8) }
        return String(decoding: text, as: UTF8.self)
    }

    /// Parses `timestamptz`, `timestamp` (read as UTC) and `date` output:
    /// `2026-11-21 00:42:09.123456+00`, `2026-11-21T00:42:09Z`,
    /// `2026-11-21 05:42:09+05:30`, `2026-11-21`, `0044-03-15 BC`,
    /// `infinity` / `-infinity` (as `Date.distantFuture` / `.distantPast`).
    static func parse(_ text: String) -> Date? {
        switch text {
        case "infinity": return .distantFuture
        case "-infinity": return .distantPast
        default: break
        }
        var scanner = Scanner(Array(text.utf8))
        var isBC = false
        if scanner.bytes.count >= 3, scanner.bytes.suffix(3) == Array(" BC".utf8) {
            isBC = true
            scanner.bytes.removeLast(3)
        }
        guard var year = scanner.number(minDigits: 4, maxDigits: 7), scanner.take("-"),
              let month = scanner.number(minDigits: 2, maxDigits: 2), scanner.take("-"),
              let day = scanner.number(minDigits: 2, maxDigits: 2),
              (1...12).contains(month), (1...31).contains(day) else { return nil }
        if isBC { year = 1 - year }

        var secondOfDay: Int64 = 0
        var micro: Int64 = 0
        var offset: Int64 = 0
        if !scanner.isAtEnd {
            guard scanner.take(" ") || scanner.take("T"),
                  let hour = scanner.number(minDigits: 2, maxDigits: 2), scanner.take(":"),
                  let minute = scanner.number(minDigits: 2, maxDigits: 2) else { return nil }
            var second: Int64 = 0
            if scanner.take(":") {
                guard let value = scanner.number(minDigits: 2, maxDigits: 2) else { return nil }
                second = value
                if scanner.take(".") {
                    guard let fraction = scanner.digits(max: 9) else { return nil }
                    var scaled = fraction.value
                    var digits = fraction.count
                    while digits < 6 { scaled *= 10; digits += 1 }
                    while digits > 6 { scaled /= 10; digits -= 1 }
                    micro = scaled
                }
            }
            guard hour <= 24, minute <= 59, second <= 60 else { return nil }
            secondOfDay = hour * 3600 + minute * 60 + second

            if scanner.take("Z") {
                offset = 0
            } else if let sign = scanner.takeSign() {
                guard let hours = scanner.number(minDigits: 2, maxDigits: 2) else { return nil }
                var minutes: Int64 = 0
                var seconds: Int64 = 0
                if scanner.take(":") {
                    guard let value = scanner.number(minDigits: 2, maxDigits: 2) else { return nil }
                    minutes = value
                    if scanner.take(":") {
                        guard let value = scanner.number(minDigits: 2, maxDigits: 2) else { return nil }
                        seconds = value
                    }
                } else if let value = scanner.number(minDigits: 2, maxDigits: 2) {
                    minutes = value
                }
                offset = sign * (hours * 3600 + minutes * 60 + seconds)
            }
            guard scanner.isAtEnd else { return nil }
        }

        let seconds = CivilCalendar.days(fromCivil: year, month, day) * 86_400 + secondOfDay - offset
        return Date(timeIntervalSince1970: Double(seconds) + Double(micro) / 1_000_000)
    }

    // MARK: - Helpers

    private struct Scanner {
        var bytes: [UInt8]
        var index = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var isAtEnd: Bool { index == bytes.count }

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
            while index < bytes.count, count < max, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
                value = value * 10 + Int64(bytes[index] - UInt8(ascii: "0"))
                index += 1
                count += 1
            }
            return count == 0 ? nil : (value, count)
        }

        mutating func number(minDigits: Int, maxDigits: Int) -> Int64? {
            guard let parsed = digits(max: maxDigits), parsed.count >= minDigits else { return nil }
            return parsed.value
        }
    }
}
