import Testing
@testable import TextCodecs

@Suite struct CivilCalendarTests {
    @Test func roundTripsOverFourHundredYearsEachWay() {
        for days in stride(from: Int64(-800_000), through: 800_000, by: 997) {
            let (year, month, day) = CivilCalendar.civil(fromDays: days)
            #expect(CivilCalendar.days(fromCivil: year, month, day) == days)
        }
    }

    @Test func knownDates() {
        #expect(CivilCalendar.days(fromCivil: 1970, 1, 1) == 0)
        #expect(CivilCalendar.days(fromCivil: 2000, 3, 1) == 11_017)
        #expect(CivilCalendar.civil(fromDays: 11_016) == (2000, 2, 29))
        #expect(CivilCalendar.civil(fromDays: -1) == (1969, 12, 31))
    }

    @Test func floorDivisionSecondsAndDigits() {
        #expect(CivilCalendar.floorDivide(-1, 86_400) == (-1, 86_399))
        #expect(CivilCalendar.floorDivide(86_400, 86_400) == (1, 0))
        #expect(CivilCalendar.civil(fromSecondsSince1970: -1) == (1969, 12, 31, 86_399))
        #expect(CivilCalendar.civil(fromSecondsSince1970: 1_795_230_245) == (2026, 11, 21, 11_045))
        for (value, count, text) in [(Int64(5), 2, "05"), (0, 6, "000000"), (123, 3, "123"), (12_345, 4, "12345"), (2026, 4, "2026")] {
            var bytes: [UInt8] = []
            TimestampText.appendDigits(value, count: count, to: &bytes)
            #expect(String(decoding: bytes, as: UTF8.self) == text)
        }
    }

    @Test func hexDigits() {
        #expect(Array("09afAF".utf8).map(hexDigitValue) == [0, 9, 10, 15, 10, 15])
        #expect(Array("g/:@`G".utf8).allSatisfy { hexDigitValue($0) == nil })
    }
}
