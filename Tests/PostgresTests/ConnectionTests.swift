import Foundation
import Postgres
import Synchronization
import TestSupport
import Testing

@Suite("PostgresConnection against the live server")
struct ConnectionTests {
    struct Expected: Error, Equatable {}

    /// Creates a throwaway table, runs `body`, drops the table.
    private func withTable<T>(
        _ columns: String, _ body: (PostgresConnection, String) throws -> T
    ) throws -> T {
        let connection = try TestEnvironment.connectPostgres()
        defer { connection.close() }
        let table = TestEnvironment.uniqueIdentifier("pg_test")
        try connection.executeScript("CREATE TABLE \(table) (\(columns))")
        defer { try? connection.executeScript("DROP TABLE IF EXISTS \(table)") }
        return try body(connection, table)
    }

    @Test func thrownErrorRollsTheTransactionBack() throws {
        try withTable("id int PRIMARY KEY") { connection, table in
            #expect(throws: Expected.self) {
                try connection.withTransaction { transaction in
                    try transaction.query("INSERT INTO \(table) VALUES (1), (2)")
                    #expect(try transaction.query("SELECT count(*) FROM \(table)").singleRow().decode(0, as: Int.self) == 2)
                    throw Expected()
                }
            }
            #expect(connection.transactionStatus == .idle)
            let count = try connection.query("SELECT count(*) FROM \(table)").singleRow().decode(0, as: Int.self)
            #expect(count == 0)
        }
    }

    @Test func returningCommits() throws {
        try withTable("id int PRIMARY KEY") { connection, table in
            let level = try connection.withTransaction(isolation: .serializable) { transaction in
                try transaction.query("INSERT INTO \(table) VALUES (1)")
                return try transaction.query("SHOW transaction_isolation").singleRow().decode(0, as: String.self)
            }
            #expect(level == "serializable")
            let other = try TestEnvironment.connectPostgres()
            #expect(try other.query("SELECT count(*) FROM \(table)").singleRow().decode(0, as: Int.self) == 1)
        }
    }

    @Test func aSwallowedStatementErrorCannotCommit() throws {
        try withTable("id int PRIMARY KEY") { connection, table in
            let error = #expect(throws: PostgresError.self) {
                try connection.withTransaction { transaction in
                    try transaction.query("INSERT INTO \(table) VALUES (1)")
                    _ = try? transaction.query("INSERT INTO \(table) VALUES (1)")  // 23505, caught
                }
            }
            #expect(error?.code == .inFailedSQLTransaction)
            #expect(connection.transactionStatus == .idle)
            let count = try connection.query("SELECT count(*) FROM \(table)").singleRow().decode(0, as: Int.self)
            #expect(count == 0)
        }
    }

    @Test func transactionsDoNotNest() throws {
        let connection = try TestEnvironment.connectPostgres()
        let error = #expect(throws: PostgresError.self) {
            try connection.withTransaction { inner in try inner.withTransaction { _ in } }
        }
        #expect(error?.kind == .protocolViolation)
        #expect(connection.transactionStatus == .idle)
    }

    @Test func uniqueViolationHasItsSQLStateAndASafeDescription() throws {
        let secretValue = "customer-4111-1111-1111-1111"
        try withTable("email text CONSTRAINT unique_email UNIQUE") { connection, table in
            try connection.query("INSERT INTO \(table) VALUES ($1)", secretValue)
            let error = #expect(throws: PostgresError.self) {
                try connection.query("INSERT INTO \(table) VALUES ($1)", secretValue)
            }
            #expect(error?.kind == .server)
            #expect(error?.code == .uniqueViolation)
            #expect(error?.code?.rawValue == "23505")
            #expect(error?.constraintName == "unique_email")
            #expect(error?.tableName == table)
            #expect(error?.isTransient == false)
            let description = error?.description ?? ""
            #expect(description.contains("23505"))
            #expect(!description.contains(secretValue))
            #expect(!description.contains("orders:orders") && !description.contains("password"))
            #expect(!description.contains("INSERT"))
            // The value is in DETAIL, which is kept apart under an explicit name.
            #expect(error?.unsafeDetail?.contains(secretValue) == true)
            // The connection is still usable.
            #expect(connection.isHealthy)
            #expect(try connection.query("SELECT 1").singleRow().decode(0, as: Int.self) == 1)
        }
    }

    @Test func otherServerErrorsCarryTheirSQLState() throws {
        let connection = try TestEnvironment.connectPostgres()
        let missing = #expect(throws: PostgresError.self) { try connection.query("SELECT * FROM no_such_table_here") }
        #expect(missing?.code == .undefinedTable)
        let syntax = #expect(throws: PostgresError.self) { try connection.query("SELEKT 1") }
        #expect(syntax?.code == .syntaxError)
        #expect(syntax?.description.contains("SELEKT") == false, "no SQL text in the description")
        #expect(syntax?.message.contains("SELEKT") == true)
        let badInput = #expect(throws: PostgresError.self) { try connection.query("SELECT $1::int", "card-4242") }
        #expect(badInput?.code == .invalidTextRepresentation)
        #expect(badInput?.description.contains("card-4242") == false)
        let check = #expect(throws: PostgresError.self) {
            try connection.query("SELECT 1 / $1::int", 0)
        }
        #expect(check?.code == .divisionByZero)
        #expect(connection.isHealthy)
    }

    @Test func executeScriptRunsSeveralStatementsAsOneImplicitTransaction() throws {
        try withTable("id int PRIMARY KEY") { connection, table in
            try connection.executeScript("INSERT INTO \(table) VALUES (1); INSERT INTO \(table) VALUES (2);")
            let error = #expect(throws: PostgresError.self) {
                try connection.executeScript("INSERT INTO \(table) VALUES (3); INSERT INTO \(table) VALUES (1); INSERT INTO \(table) VALUES (4);")
            }
            #expect(error?.code == .uniqueViolation)
            // One script is one implicit transaction: the statement before the error is rolled back too.
            let ids = try connection.query("SELECT id FROM \(table) ORDER BY id").rows.map { try $0.decode(0, as: Int.self) }
            #expect(ids == [1, 2])
            #expect(connection.isHealthy)
        }
    }

    @Test func affectedRowsAndColumns() throws {
        try withTable("id int PRIMARY KEY, n int") { connection, table in
            #expect(try connection.query("INSERT INTO \(table) SELECT g, 0 FROM generate_series(1, 5) g").affectedRows == 5)
            let update = try connection.query("UPDATE \(table) SET n = n + 1 WHERE id > $1", 2)
            #expect(update.affectedRows == 3)
            #expect(update.commandTag == "UPDATE 3")
            let select = try connection.query("SELECT id, n AS count FROM \(table) WHERE id < 0")
            #expect(select.rows.isEmpty)
            #expect(select.columns == ["id", "count"])
        }
    }

    @Test func wrongPasswordIsAConnectionErrorWithoutThePassword() throws {
        var configuration = try TestEnvironment.postgresConfiguration()
        let wrong = "Wrong-Password-\(UUID().uuidString)"
        configuration.password = wrong
        let error = #expect(throws: PostgresError.self) { try PostgresConnection(configuration: configuration) }
        #expect(error?.kind == .connection)
        #expect(error?.code == .invalidPassword)
        #expect(error?.isTransient == false)
        #expect(error?.description.contains(wrong) == false)
        #expect(error?.message.contains(wrong) == false)
        #expect(error?.description.contains("password authentication failed") == true)
    }

    @Test func unreachableServerIsATransientConnectionError() throws {
        var configuration = try TestEnvironment.postgresConfiguration()
        configuration.endpoints[0].port = 1  // nothing listens there
        configuration.connectTimeout = 2
        let error = #expect(throws: PostgresError.self) { try PostgresConnection(configuration: configuration) }
        #expect(error?.kind == .connection)
        #expect(error?.isTransient == true)
    }

    @Test func aTerminatedBackendIsNoticedAndResetReconnects() throws {
        let victim = try TestEnvironment.connectPostgres()
        let killer = try TestEnvironment.connectPostgres()
        let oldPID = victim.backendPID
        #expect(try killer.query("SELECT pg_terminate_backend($1::int)", oldPID).singleRow().decode(0, as: Bool.self))
        Thread.sleep(forTimeInterval: 0.2)
        let error = #expect(throws: PostgresError.self) { try victim.query("SELECT 1") }
        #expect(error?.isTransient == true)
        #expect(error?.kind == .connection || error?.code == .adminShutdown)
        #expect(!victim.isHealthy)
        try victim.reset()
        #expect(victim.isHealthy)
        #expect(victim.backendPID != oldPID)
        #expect(try victim.query("SELECT 41 + 1").singleRow().decode(0, as: Int.self) == 42)
    }

    @Test func closedConnectionRefusesCommands() throws {
        let connection = try TestEnvironment.connectPostgres()
        connection.close()
        connection.close()  // closing twice is harmless
        #expect(!connection.isHealthy)
        let error = #expect(throws: PostgresError.self) { try connection.query("SELECT 1") }
        #expect(error?.kind == .connection)
        try connection.reset()
        #expect(try connection.query("SELECT 1").singleRow().decode(0, as: Int.self) == 1)
    }

    @Test func nulBytesAreRefusedBeforeReachingLibpq() throws {
        let connection = try TestEnvironment.connectPostgres()
        let error = #expect(throws: PostgresError.self) { try connection.query("SELECT $1::text", "a\u{0}b") }
        #expect(error?.kind == .protocolViolation)
        #expect(connection.isHealthy)
    }

    @Test func sessionSettingsMakeTextDecodable() throws {
        let connection = try TestEnvironment.connectPostgres()
        let row = try connection.query("SHOW DateStyle").singleRow()
        #expect(try row.decode(0, as: String.self).hasPrefix("ISO"))
        #expect(try connection.query("SHOW TimeZone").singleRow().decode(0, as: String.self) == "UTC")
        #expect(try connection.query("SHOW client_encoding").singleRow().decode(0, as: String.self) == "UTF8")
        #expect(try connection.query("SELECT current_setting('application_name')").singleRow().decode(0, as: String.self) == "order-processing-tests")
    }

    /// Two transactions lock rows A and B in opposite orders: the server
    /// picks one of them as the deadlock victim (40P01, transient); the other commits.
    @Test(.timeLimit(.minutes(1)))
    func deadlockIsDetectedAndTransient() async throws {
        let setup = try TestEnvironment.connectPostgres()
        defer { setup.close() }
        let table = TestEnvironment.uniqueIdentifier("pg_deadlock")
        try setup.executeScript("CREATE TABLE \(table) (id text PRIMARY KEY, n int NOT NULL)")
        defer { try? setup.executeScript("DROP TABLE IF EXISTS \(table)") }
        try setup.query("INSERT INTO \(table) VALUES ('A', 0), ('B', 0)")

        let barrier = ThreadBarrier(parties: 2)
        let results: [Result<Void, PostgresError>] = await onThreads(2) { index in
            let (first, second) = index == 0 ? ("A", "B") : ("B", "A")
            do {
                let connection = try TestEnvironment.connectPostgres()
                defer { connection.close() }
                try connection.query("SET lock_timeout = '20s'")
                try connection.withTransaction { transaction in
                    try transaction.query("UPDATE \(table) SET n = n + 1 WHERE id = $1", first)
                    barrier.wait()
                    try transaction.query("UPDATE \(table) SET n = n + 1 WHERE id = $1", second)
                }
                return .success(())
            } catch let error as PostgresError {
                return .failure(error)
            } catch {
                return .failure(PostgresError(kind: .protocolViolation, message: "unexpected \(error)"))
            }
        }
        let failures = results.compactMap { result -> PostgresError? in
            if case .failure(let error) = result { return error }
            return nil
        }
        #expect(failures.count == 1, "\(failures)")
        #expect(failures.first?.code == .deadlockDetected)
        #expect(failures.first?.isTransient == true)
        // The survivor committed both its updates; the victim left nothing.
        let total = try setup.query("SELECT sum(n)::int FROM \(table)").singleRow().decode(0, as: Int.self)
        #expect(total == 2)
    }
}
