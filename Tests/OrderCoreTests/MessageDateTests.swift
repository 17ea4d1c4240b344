import Foundation
import Testing
@testable import OrderCore

@Suite struct MessageDateTests {
    /// A fixed-seed generator, so a failure names a reproducible date.
    private struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// 1583-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z.
    private static let fastRange = -12_212_553_600.0 ... 253_402_300_799.999

    private static let fixed: [Double] = [
        0, -0.001, 0.001, -0.0005, 0.0005, -1, 1_700_000_000.123, 1_700_000_000.9999, 1_700_000_000.9995,
        1_700_000_000.0004, 1_700_000_000.0005, 978_307_200, 978_307_199.999, 951_868_799.999, 951_868_800,
        -2_203_891_200, -2_208_988_800, -12_212_553_600, -11_676_096_000, 253_402_300_799.999, 1_735_689_599.999_9,
        -14_182_940, -0.000_000_1, 4_102_444_800.5, 1_782_000_000.066,
    ]

    private static var sample: [Date] {
        var generator = SplitMix64(state: 20_261_121)
        var dates = fixed.map { Date(timeIntervalSince1970: $0) }
        for _ in 0..<3_000 {
            dates.append(Date(timeIntervalSince1970: Double.random(in: fastRange, using: &generator)))
        }
        // Whole and half milliseconds around today, where rounding matters.
        for _ in 0..<2_000 {
            let millis = Int64.random(in: 1_500_000_000_000...2_000_000_000_000, using: &generator)
            dates.append(Date(timeIntervalSince1970: Double(millis) / 1000))
            dates.append(Date(timeIntervalSince1970: (Double(millis) + 0.5) / 1000))
        }
        return dates
    }

    @Test func formatsExactlyAsFoundationDid() {
        var mismatches: [String] = []
        for date in Self.sample {
            let fast = MessageCoding.formatDate(date)
            let foundation = MessageCoding.foundationFormatDate(date)
            if fast != foundation { mismatches.append("\(date.timeIntervalSince1970): \(fast) != \(foundation)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) differ, e.g. \(mismatches.prefix(5))")
    }

    @Test func knownTexts() {
        #expect(MessageCoding.formatDate(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(MessageCoding.formatDate(Date(timeIntervalSince1970: 1.5)) == "1970-01-01T00:00:01.500Z")
        #expect(MessageCoding.formatDate(MessageCoding.parseDate("1969-12-31T23:59:59.999Z")!) == "1969-12-31T23:59:59.999Z")
        #expect(MessageCoding.formatDate(MessageCoding.parseDate("2026-11-21T03:04:05.123Z")!) == "2026-11-21T03:04:05.123Z")
        #expect(MessageCoding.formatDate(MessageCoding.parseDate("2000-02-29T12:00:00+05:30")!) == "2000-02-29T06:30:00.000Z")
        #expect(MessageCoding.formatDate(MessageCoding.parseDate("1900-03-01T00:00:00.5-01:00")!) == "1900-03-01T01:00:00.500Z")
        #expect(MessageCoding.parseDate("2026-01-01T00:00:00-08:00") == MessageCoding.parseDate("2026-01-01T08:00:00Z"))
    }

    @Test func outsideTheFastYearsFoundationFormats() {
        for seconds in [-30_610_224_000.0, -62_135_596_800, -12_212_553_600.001, 253_402_300_800, 1e12, -1e13] {
            let date = Date(timeIntervalSince1970: seconds)
            var bytes: [UInt8] = []
            #expect(!MessageCoding.fastAppendDate(date, to: &bytes))
            #expect(bytes.isEmpty)
            #expect(MessageCoding.formatDate(date) == MessageCoding.foundationFormatDate(date))
        }
    }

    @Test func formatThenParseRoundTrips() throws {
        for date in Self.sample {
            let text = MessageCoding.formatDate(date)
            let parsed = try #require(MessageCoding.fastParseDate(text), "\(text)")
            // Milliseconds are truncated, as Foundation did.
            let lost = date.timeIntervalSince(parsed)
            #expect(lost > -0.000_001 && lost < 0.001, "\(text)")
            #expect(MessageCoding.formatDate(parsed) == text)
            // A parsed date is a fixed point: it encodes and parses to itself.
            #expect(MessageCoding.fastParseDate(MessageCoding.formatDate(parsed)) == parsed)
        }
    }

    @Test func parsesAsFoundationDid() throws {
        var texts = Self.sample.prefix(500).map(MessageCoding.formatDate)
        texts += [
            "2026-01-01T00:00:00Z", "2026-01-01T00:00:00.000Z", "1969-12-31T23:59:59.999Z", "1970-01-01T00:00:00.1Z",
            "2026-11-21T03:04:05.123456789Z", "1600-02-29T00:00:00Z",
            "1583-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z",
        ]
        // Not compared: with a `±HH:MM` offset Foundation's first strategy read the
        // local time as UTC and ignored the offset; the fast path applies it.
        for text in texts {
            let fast = try #require(MessageCoding.fastParseDate(text), "\(text)")
            let foundation = try #require(MessageCoding.foundationParseDate(text), "\(text)")
            // Equal but for the last bit or two of the Double (the fast path rounds up
            // rather than land just below a millisecond).
            let tolerance = max(0.000_001, 2 * foundation.timeIntervalSinceReferenceDate.ulp)
            #expect(abs(fast.timeIntervalSince(foundation)) <= tolerance, "\(text)")
        }
    }

    @Test(arguments: [
        "2026-01-01", "2026-01-01T00:00:00", "2026-01-01 00:00:00Z", "2026-1-01T00:00:00Z", "2026-01-01T00:00:00z",
        "2026-01-01T00:00:00.Z", "2026-01-01T00:00:00+0530", "2026-01-01T00:00:00+05", "2026-02-29T00:00:00Z",
        "2026-13-01T00:00:00Z", "2026-04-31T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T00:60:00Z",
        "2026-01-01T00:00:60Z", "2026-01-01T00:00:00+24:00", "1582-12-31T00:00:00Z", "10000-01-01T00:00:00Z",
        "2026-01-01T00:00:00Zjunk", "２026-01-01T00:00:00Z", "", "yesterday", "2026-11-21T03:04:05.1234567891Z",
    ])
    func theFastPathLeavesTheRestToFoundation(text: String) {
        #expect(MessageCoding.fastParseDate(text) == nil)
        #expect(MessageCoding.parseDate(text) == MessageCoding.foundationParseDate(text))
    }
}
