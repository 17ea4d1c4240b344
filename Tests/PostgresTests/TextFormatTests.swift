import Foundation
@testable import Postgres
import Testing

/// The text formats, without a server.
@Suite("Text formats")
struct TextFormatTests {
    @Test func formatsTimestampsInUTCWithMicroseconds() {
        let date = Date(timeIntervalSince1970: 1_795_221_729.123456)
        #expect(date.postgresText == "2026-11-21 00:42:09.123456+00")
        #expect(Date(timeIntervalSince1970: 0).postgresText == "1970-01-01 00:00:00.000000+00")
        #expect(Date(timeIntervalSince1970: -0.5).postgresText == "1969-12-31 23:59:59.500000+00")
    }

    @Test(arguments: [
        ("2026-11-21 00:42:09.123456+00", 1_795_221_729.123456),
        ("2026-11-21 00:42:09+00", 1_795_221_729.0),
        ("2026-11-21 00:42:09.5+00", 1_795_221_729.5),
        ("2026-11-21T00:42:09Z", 1_795_221_729.0),
        ("2026-11-21 06:12:09.123456+05:30", 1_795_221_729.123456),
        ("2026-11-20 19:42:09-05", 1_795_221_729.0),
        ("2026-11-21 00:42:09", 1_795_221_729.0),
        ("2026-11-21", 1_795_219_200.0),
        ("1970-01-01", 0.0),
        ("1969-12-31 23:59:59.75+00", -0.25),
        ("2000-02-29 12:00:00+00", 951_825_600.0),
    ])
    func parsesTimestampText(text: String, seconds: Double) throws {
        let date = try Date(postgresText: text)
        #expect(abs(date.timeIntervalSince1970 - seconds) < 0.000_001, "\(text) → \(date.timeIntervalSince1970)")
    }

    @Test func parsesInfinityAndBC() throws {
        #expect(try Date(postgresText: "infinity") == .distantFuture)
        #expect(try Date(postgresText: "-infinity") == .distantPast)
        let bc = try Date(postgresText: "0001-12-31 00:00:00+00 BC")  // year 0 in ISO numbering
        #expect(bc.postgresText == "0001-12-31 00:00:00.000000+00 BC")
    }

    @Test(arguments: ["", "2026", "2026-13-01", "2026-11-21 25:00:00", "2026-11-21 00:42:09+", "yesterday", "2026-11-21 00:42:09.+00"])
    func rejectsMalformedTimestamps(text: String) {
        #expect(throws: PostgresError.self) { try Date(postgresText: text) }
    }

    @Test func byteaHex() throws {
        #expect(Data([0, 1, 0xAB, 0xFF]).postgresText == "\\x0001abff")
        #expect(try Data(postgresText: "\\x0001ABff") == Data([0, 1, 0xAB, 0xFF]))
        #expect(try [UInt8](postgresText: "\\x") == [])
        #expect(throws: PostgresError.self) { try Data(postgresText: "\\x0") }
        #expect(throws: PostgresError.self) { try Data(postgresText: "abc") }
    }

    @Test func scalarEncodings() {
        #expect(true.postgresText == "t")
        #expect(false.postgresText == "f")
        #expect(Double.nan.postgresText == "NaN")
        #expect((-Double.infinity).postgresText == "-Infinity")
        #expect(Int64.min.postgresText == "-9223372036854775808")
        #expect(String?.none.postgresText == nil)
        #expect(Int?.some(3).postgresText == "3")
        #expect(PostgresNull().postgresText == nil)
        #expect(UUID(uuidString: "E621E1F8-C36C-495A-93FC-0C247A3E6E5F")!.postgresText == "e621e1f8-c36c-495a-93fc-0c247a3e6e5f")
    }

    @Test func decodingErrorsNameTheColumnButNotTheValue() throws {
        let row = PostgresRow(columns: ["quantity", "note"], values: ["secret-text", nil])
        let notNumber = #expect(throws: PostgresError.self) { try row.decode(0, as: Int.self) }
        #expect(notNumber?.kind == .decoding)
        #expect(notNumber?.description.contains("quantity") == true)
        #expect(notNumber?.description.contains("secret-text") == false)
        let null = #expect(throws: PostgresError.self) { try row.decode("note", as: String.self) }
        #expect(null?.description.contains("note") == true)
        #expect(null?.description.contains("NULL") == true)
        #expect(throws: PostgresError.self) { try row.decode("missing", as: String.self) }
        #expect(throws: PostgresError.self) { try row.decode(7, as: String?.self) }
        // Type inference picks the Optional decoding: NULL reads as nil, no error.
        let note: String? = try row.decode("note")
        #expect(note == nil)
        let quantity: String = try row.decode(0)
        #expect(quantity == "secret-text")
    }

    @Test func dataExceptionDescriptionsMaskQuotedInput() {
        let error = PostgresError(kind: .server, code: .invalidTextRepresentation,
                                  message: "invalid input syntax for type integer: \"card-4242\"")
        #expect(error.description == "PostgreSQL server error 22P02: invalid input syntax for type integer: \"…\"")
        #expect(error.message.contains("card-4242"))
    }

    @Test func transientClassification() {
        for code: PostgresError.Code in [.deadlockDetected, .serializationFailure, .lockNotAvailable, .queryCanceled,
                                         .tooManyConnections, .adminShutdown, .cannotConnectNow, .init("08006")] {
            #expect(PostgresError(kind: .server, code: code, message: "x").isTransient, "\(code)")
        }
        for code: PostgresError.Code in [.uniqueViolation, .checkViolation, .undefinedTable, .syntaxError] {
            #expect(!PostgresError(kind: .server, code: code, message: "x").isTransient, "\(code)")
        }
        #expect(PostgresError(kind: .connection, message: "server closed the connection").isTransient)
        #expect(!PostgresError(kind: .connection, code: .invalidPassword, message: "x").isTransient)
        #expect(!PostgresError(kind: .decoding, message: "x").isTransient)
    }

    /// The database away (the worker waits for it) against the unit of work failing (the worker retries it).
    @Test func unavailableClassification() {
        for code: PostgresError.Code in [.tooManyConnections, .adminShutdown, .crashShutdown, .cannotConnectNow, .init("08006"), .init("08001")] {
            #expect(PostgresError(kind: .server, code: code, message: "x").isUnavailable, "\(code)")
        }
        for code: PostgresError.Code in [.deadlockDetected, .serializationFailure, .lockNotAvailable, .queryCanceled, .uniqueViolation, .checkViolation] {
            #expect(!PostgresError(kind: .server, code: code, message: "x").isUnavailable, "\(code)")
        }
        #expect(PostgresError(kind: .connection, message: "Connection refused").isUnavailable)
        #expect(!PostgresError(kind: .decoding, message: "x").isUnavailable)
    }
}
