import Testing
import TextCodecs

/// The one timestamp codec in its three layouts. The layouts' full contracts
/// are tested where they are used: MessageDateTests (against Foundation),
/// TextFormatTests (PostgreSQL's forms), JSONLogHandlerTests.
@Suite struct TimestampTextTests {
    private static let instant: (seconds: Int64, nanoseconds: Int64) = (1_795_230_245, 123_456_789)  // 2026-11-21T03:04:05.123456789Z

    @Test func eachLayoutWritesItsForm() {
        let (seconds, nanoseconds) = Self.instant
        #expect(TimestampText.message.string(seconds: seconds, nanoseconds: nanoseconds) == "2026-11-21T03:04:05.123Z")
        #expect(TimestampText.log.string(seconds: seconds, nanoseconds: nanoseconds) == "2026-11-21T03:04:05.123456Z")
        #expect(TimestampText.postgres.string(seconds: seconds, nanoseconds: nanoseconds) == "2026-11-21 03:04:05.123456+00")
        #expect(TimestampText.postgres.string(seconds: -62_135_596_800 - 86_400, nanoseconds: 0) == "0001-12-31 00:00:00.000000+00 BC")
    }

    @Test func messageYearsAreBounded() {
        #expect(TimestampText.message.string(seconds: -12_212_553_601, nanoseconds: 0) == nil, "1582")
        #expect(TimestampText.message.string(seconds: 253_402_300_800, nanoseconds: 0) == nil, "10000")
        #expect(TimestampText.message.parse("1582-12-31T23:59:59Z") == nil)
        #expect(TimestampText.postgres.parse("1582-12-31 23:59:59+00") != nil)
    }

    @Test func eachLayoutReadsWhatItWrites() throws {
        let (seconds, nanoseconds) = Self.instant
        for layout in [TimestampText.message, .log, .postgres] {
            let text = try #require(layout.string(seconds: seconds, nanoseconds: nanoseconds))
            let parsed = try #require(layout.parse(text), "\(text)")
            #expect(parsed.seconds == seconds)
            #expect(nanoseconds - parsed.nanoseconds < 1_000_000, "\(text) truncates, never rounds up")
        }
    }

    /// One scanner: PostgreSQL's forms are read only by the PostgreSQL layout,
    /// and the fields mean the same in both.
    @Test(arguments: [
        "2026-11-21 03:04:05+00", "2026-11-21", "2026-11-21 03:04", "2026-11-21T03:04:05", "2026-11-21 24:00:00+00",
        "2026-11-21 03:04:60+00", "2026-11-21 03:04:05+0530", "2026-11-21 03:04:05-05", "0044-03-15 BC", "02026-11-21 03:04:05+00",
    ])
    func postgresFormsAreNotMessageDates(text: String) {
        #expect(TimestampText.postgres.parse(text) != nil, "\(text)")
        #expect(TimestampText.message.parse(text) == nil, "\(text)")
    }

    @Test func offsetsMeanTheSameInBothLayouts() throws {
        let message = try #require(TimestampText.message.parse("2026-11-21T08:34:05.5+05:30"))
        let postgres = try #require(TimestampText.postgres.parse("2026-11-21 08:34:05.5+05:30"))
        #expect(message == postgres)
        #expect(message.seconds == 1_795_230_245 && message.nanoseconds == 500_000_000)
    }
}
