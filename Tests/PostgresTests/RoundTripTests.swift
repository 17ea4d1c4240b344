import Foundation
import Postgres
import TestSupport
import Testing

/// Every supported type goes to the server as a parameter and comes back as a result value.
@Suite("Round trips through the server")
struct RoundTripTests {
    let connection: PostgresConnection

    init() throws {
        connection = try TestEnvironment.connectPostgres()
    }

    /// Sends `value` as `$1::type` and decodes the result as `T`.
    private func roundTrip<T: PostgresEncodable & PostgresDecodable>(_ value: T, _ type: String) throws -> T {
        try connection.query("SELECT $1::\(type) AS value", [value]).singleRow().decode("value", as: T.self)
    }

    @Test func strings() throws {
        for text in ["", "plain", "it's \"quoted\" \\ back", "zß水🍏e\u{301}", "line\nbreak\ttab", String(repeating: "x", count: 100_000)] {
            #expect(try roundTrip(text, "text") == text)
        }
        // The server sees the characters, not mangled bytes.
        let row = try connection.query("SELECT length($1::text), octet_length($1::text), $1::text = 'zß水🍏'", "zß水🍏").singleRow()
        #expect(try row.decode(0, as: Int.self) == 4)
        #expect(try row.decode(1, as: Int.self) == 10)
        #expect(try row.decode(2, as: Bool.self))
        #expect(try connection.query("SELECT $1::text", Substring("abcdef").dropFirst(2)).singleRow().decode(0, as: String.self) == "cdef")
    }

    @Test func integers() throws {
        for value in [Int64.min, -1, 0, 1, Int64.max] {
            #expect(try roundTrip(value, "int8") == value)
        }
        for value in [Int32.min, 0, Int32.max] {
            #expect(try roundTrip(value, "int4") == value)
        }
        for value in [Int16.min, Int16.max] {
            #expect(try roundTrip(value, "int2") == value)
        }
        #expect(try roundTrip(Int.max, "int8") == Int.max)
        // Out of range for int4: a server error, not a silent truncation.
        let error = #expect(throws: PostgresError.self) { try connection.query("SELECT $1::int4", Int64.max) }
        #expect(error?.code == .numericValueOutOfRange)
    }

    @Test func booleans() throws {
        #expect(try roundTrip(true, "bool") == true)
        #expect(try roundTrip(false, "bool") == false)
        #expect(try connection.query("SELECT $1::bool AND true", true).singleRow().decode(0, as: Bool.self))
    }

    @Test func doubles() throws {
        for value in [0.0, -0.0, 0.1, -1e300, .pi, .leastNonzeroMagnitude, .greatestFiniteMagnitude, .infinity, -.infinity] {
            #expect(try roundTrip(value, "float8") == value)
        }
        #expect(try roundTrip(Double.nan, "float8").isNaN)
    }

    @Test func decimals() throws {
        let value = Decimal(string: "12345678901234567890.123456789")!
        #expect(try roundTrip(value, "numeric") == value)
        #expect(try roundTrip(Decimal(-5) / 4, "numeric") == Decimal(string: "-1.25"))
    }

    @Test func uuids() throws {
        let id = UUID()
        #expect(try roundTrip(id, "uuid") == id)
        let text = try connection.query("SELECT $1::uuid::text", id).singleRow().decode(0, as: String.self)
        #expect(text == id.uuidString.lowercased())
    }

    @Test func datesKeepMillisecondsAndMore() throws {
        let dates = [
            Date(timeIntervalSince1970: 1_795_221_729.123),
            Date(timeIntervalSince1970: 1_795_221_729.123456),
            Date(timeIntervalSince1970: 0),
            Date(timeIntervalSince1970: -1_000_000_000.25),
        ]
        for date in dates {
            let back = try roundTrip(date, "timestamptz")
            #expect(abs(back.timeIntervalSince(date)) < 0.000_001, "\(date) → \(back)")
        }
        // The server reads the instant correctly, not shifted by a time zone.
        let epoch = try connection.query("SELECT extract(epoch FROM $1::timestamptz)::float8", dates[0]).singleRow().decode(0, as: Double.self)
        #expect(abs(epoch - 1_795_221_729.123) < 0.000_001)
        // date and timestamp columns decode too.
        let row = try connection.query("SELECT '2026-11-21'::date, '2026-11-21 00:42:09.5'::timestamp").singleRow()
        #expect(try row.decode(0, as: Date.self) == Date(timeIntervalSince1970: 1_795_219_200))
        #expect(try row.decode(1, as: Date.self) == Date(timeIntervalSince1970: 1_795_221_729.5))
    }

    @Test func bytes() throws {
        let data = Data([0, 0, 1, 0xFF, 0, 0x7F, 0x80, 0])
        #expect(try roundTrip(data, "bytea") == data)
        #expect(try roundTrip(Data(), "bytea") == Data())
        let all = [UInt8](0...255)
        #expect(try roundTrip(all, "bytea") == all)
        let row = try connection.query("SELECT length($1::bytea), get_byte($1::bytea, 3)", data).singleRow()
        #expect(try row.decode(0, as: Int.self) == 8)
        #expect(try row.decode(1, as: Int.self) == 255)
    }

    @Test func nullsAndOptionals() throws {
        let row = try connection.query(
            "SELECT $1::text AS a, $2::int8 AS b, $3::uuid AS c, $4::timestamptz AS d, $5::text AS e",
            [String?.none, Int64?.none, UUID?.none, PostgresNull(), Optional("present")]
        ).singleRow()
        #expect(row.values == [nil, nil, nil, nil, "present"])
        #expect(try row.decode("a", as: String?.self) == nil)
        #expect(try row.decode("b", as: Int64?.self) == nil)
        #expect(try row.decode("c", as: UUID?.self) == nil)
        #expect(try row.decode("d", as: Date?.self) == nil)
        #expect(try row.decode("e", as: String?.self) == "present")
        let error = #expect(throws: PostgresError.self) { try row.decode("b", as: Int64.self) }
        #expect(error?.kind == .decoding)
        #expect(error?.description.contains("\"b\"") == true)
        // The empty string is not NULL.
        #expect(try connection.query("SELECT $1::text", "").singleRow().values == [""])
    }

    @Test func valuesSurviveATableRoundTrip() throws {
        let table = TestEnvironment.uniqueIdentifier("pg_roundtrip")
        try connection.executeScript("""
            CREATE TABLE \(table) (id uuid PRIMARY KEY, name text, qty int, big bigint, ok bool,
                                   price float8, at timestamptz, blob bytea, note text)
            """)
        defer { try? connection.executeScript("DROP TABLE IF EXISTS \(table)") }
        let id = UUID()
        let at = Date(timeIntervalSince1970: 1_700_000_000.987)
        let blob = Data([0, 1, 2, 0])
        let inserted = try connection.query(
            "INSERT INTO \(table) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            id, "Ünïcödé ✓", 7, Int64.min, true, 2.5, at, blob, String?.none)
        #expect(inserted.affectedRows == 1)
        let row = try connection.query("SELECT * FROM \(table) WHERE id = $1", id).singleRow()
        #expect(row.columns == ["id", "name", "qty", "big", "ok", "price", "at", "blob", "note"])
        #expect(try row.decode("id", as: UUID.self) == id)
        #expect(try row.decode("name", as: String.self) == "Ünïcödé ✓")
        #expect(try row.decode("qty", as: Int32.self) == 7)
        #expect(try row.decode("big", as: Int64.self) == Int64.min)
        #expect(try row.decode("ok", as: Bool.self))
        #expect(try row.decode("price", as: Double.self) == 2.5)
        #expect(abs(try row.decode("at", as: Date.self).timeIntervalSince(at)) < 0.000_001)
        #expect(try row.decode("blob", as: Data.self) == blob)
        #expect(try row.decode("note", as: String?.self) == nil)
    }
}
