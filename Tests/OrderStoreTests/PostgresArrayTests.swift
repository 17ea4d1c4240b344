import Foundation
import Postgres
import TestSupport
import Testing

@testable import OrderStore

/// The array text form must survive PostgreSQL's parser exactly, whatever the elements hold.
@Suite("PostgresArray against the live server")
struct PostgresArrayTests {
    @Test func textElementsRoundTripThroughUnnest() throws {
        let connection = try PostgresConnection(configuration: PostgresConfiguration(url: TestEnvironment.databaseURL))
        defer { connection.close() }
        let elements: [String?] = [
            "plain", "", "NULL", nil, "with \"quotes\"", #"back\slash\"#, "comma, {braces} and spaces ", "ünï € 日本", "\\\"", "new\nline",
        ]
        let rows = try connection.query(
            "SELECT value, value IS NULL FROM unnest($1::text[]) WITH ORDINALITY AS t(value, n) ORDER BY n", [PostgresArray(optional: elements)]
        ).rows
        #expect(try rows.map { try $0.decode(0, as: String?.self) } == elements)
        #expect(try rows.map { try $0.decode(1, as: Bool.self) } == elements.map { $0 == nil })
    }

    @Test func integersAndEmptyArrays() throws {
        let connection = try PostgresConnection(configuration: PostgresConfiguration(url: TestEnvironment.databaseURL))
        defer { connection.close() }
        #expect(try connection.query("SELECT sum(v)::int FROM unnest($1::int[]) AS t(v)", [PostgresArray([1, -2, 1_000_000])]).rows[0].decode(0, as: Int.self) == 999_999)
        #expect(try connection.query("SELECT cardinality($1::text[])", [PostgresArray([String]())]).rows[0].decode(0, as: Int.self) == 0)
    }

    @Test func uuidsAreTheirUUIDStringsAndRoundTrip() throws {
        let ids = (0..<50).map { _ in UUID() }
        #expect(PostgresArray(ids).postgresText == PostgresArray(ids.map { $0.uuidString.lowercased() }).postgresText)
        #expect(PostgresArray([UUID]()).postgresText == "{}")
        let connection = try PostgresConnection(configuration: PostgresConfiguration(url: TestEnvironment.databaseURL))
        defer { connection.close() }
        let rows = try connection.query("SELECT id FROM unnest($1::uuid[]) WITH ORDINALITY AS t(id, n) ORDER BY n", [PostgresArray(ids)]).rows
        #expect(try rows.map { try $0.decode(0, as: UUID.self) } == ids)
    }
}
