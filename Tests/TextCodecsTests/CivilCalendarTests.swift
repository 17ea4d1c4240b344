import Testing
import TextCodecs

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

    @Test func hexDigits() {
        #expect(Array("09afAF".utf8).map(hexDigitValue) == [0, 9, 10, 15, 10, 15])
        #expect(Array("g/:@`G".utf8).allSatisfy { hexDigitValue($0) == nil })
    }
}
