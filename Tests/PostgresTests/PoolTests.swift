import Foundation
import Logging
import Postgres
import TestSupport
import Testing

@Suite("PostgresPool")
struct PoolTests {
    private func makePool(size: Int) throws -> PostgresPool {
        PostgresPool(configuration: try TestEnvironment.postgresConfiguration(), size: size,
                     logger: Logger(label: "tests.postgres-pool"))
    }

    @Test(.timeLimit(.minutes(1)))
    func fiftyConcurrentTasksShareFourConnections() async throws {
        let pool = try makePool(size: 4)
        // Every job waits (at most 5 s) until four jobs hold a connection at once: a pool that
        // ran its jobs one at a time, or on fewer connections, would leave the first ones waiting in vain.
        let fourAtOnce = ThreadBarrier(parties: 4)
        let results = try await withThrowingTaskGroup(of: (Int, Int32, Bool).self) { group in
            for index in 0..<50 {
                group.addTask {
                    try await pool.withConnection { connection in
                        let met = fourAtOnce.wait(timeout: 5)
                        let row = try connection.query(
                            "SELECT $1::int * 2, pg_backend_pid(), pg_sleep(0.01)", index).singleRow()
                        return (try row.decode(0, as: Int.self), try row.decode(1, as: Int32.self), met)
                    }
                }
            }
            var results: [(Int, Int32, Bool)] = []
            for try await result in group { results.append(result) }
            return results
        }
        await pool.shutdown()
        #expect(results.count == 50)
        #expect(Set(results.map(\.0)) == Set((0..<50).map { $0 * 2 }))
        #expect(results.allSatisfy { $0.2 }, "four jobs never held connections at the same time")
        let backends = Set(results.map(\.1))
        #expect(backends.count == 4, "four connections, no more, and the four jobs held at once had one each: \(backends)")
    }

    @Test func aQueryErrorReturnsAUsableConnection() async throws {
        let pool = try makePool(size: 1)
        let firstPID = try await pool.withConnection { $0.backendPID }
        await #expect(throws: PostgresError.self) {
            try await pool.withConnection { connection in
                try connection.query("SELECT 1 / $1::int", 0)
            }
        }
        let error = await #expect(throws: PostgresError.self) {
            try await pool.withConnection { try $0.query("SELECT * FROM no_such_table_in_pool_test") }
        }
        #expect(error?.code == .undefinedTable)
        #expect(pool.idleConnectionCount == 1)
        let (pid, value) = try await pool.withConnection { connection in
            (connection.backendPID, try connection.query("SELECT 7").singleRow().decode(0, as: Int.self))
        }
        #expect(value == 7)
        #expect(pid == firstPID, "the same connection came back into service")
        await pool.shutdown()
    }

    @Test func aTransactionLeftOpenOrFailedDoesNotLeakToTheNextUser() async throws {
        let setup = try TestEnvironment.connectPostgres()
        defer { setup.close() }
        let table = TestEnvironment.uniqueIdentifier("pg_pool")
        try setup.executeScript("CREATE TABLE \(table) (id int PRIMARY KEY)")
        defer { try? setup.executeScript("DROP TABLE IF EXISTS \(table)") }

        let pool = try makePool(size: 1)
        // Body opens a transaction by hand and fails inside it.
        await #expect(throws: PostgresError.self) {
            try await pool.withConnection { connection in
                try connection.query("BEGIN")
                try connection.query("INSERT INTO \(table) VALUES (1)")
                try connection.query("INSERT INTO \(table) VALUES (1)")
            }
        }
        // Body opens a transaction and returns without finishing it.
        try await pool.withConnection { connection in
            try connection.query("BEGIN")
            try connection.query("INSERT INTO \(table) VALUES (2)")
        }
        let (status, count) = try await pool.withConnection { connection in
            (connection.transactionStatus,
             try connection.query("SELECT count(*) FROM \(table)").singleRow().decode(0, as: Int.self))
        }
        #expect(status == .idle)
        #expect(count == 0)
        // withTransaction on the pool: rolled back on error, committed otherwise.
        await #expect(throws: PostgresError.self) {
            try await pool.withTransaction { connection in
                try connection.query("INSERT INTO \(table) VALUES (3)")
                try connection.query("INSERT INTO \(table) VALUES (3)")
            }
        }
        try await pool.withTransaction(isolation: .repeatableRead) { connection in
            try connection.query("INSERT INTO \(table) VALUES (4)")
        }
        #expect(try setup.query("SELECT array_agg(id)::text FROM \(table)").singleRow().decode(0, as: String.self) == "{4}")
        await pool.shutdown()
    }

    @Test func aBrokenConnectionIsReplaced() async throws {
        let pool = try makePool(size: 1)
        let killer = try TestEnvironment.connectPostgres()
        defer { killer.close() }
        let oldPID = try await pool.withConnection { $0.backendPID }
        try killer.query("SELECT pg_terminate_backend($1::int)", oldPID)
        try await Task.sleep(for: .milliseconds(200))
        // Ended by its server while idle: replaced at checkout, so the next use works.
        let replacedPID = try await pool.withConnection { connection in
            _ = try connection.query("SELECT 1")
            return connection.backendPID
        }
        #expect(replacedPID != oldPID)

        // Ended during a use: that use fails (transient) and the connection is discarded.
        let error = await #expect(throws: PostgresError.self) {
            try await pool.withConnection { try $0.query("SELECT pg_terminate_backend(pg_backend_pid())") }
        }
        #expect(error?.isTransient == true)
        #expect(pool.idleConnectionCount == 0, "the broken connection was discarded")
        let newPID = try await pool.withConnection { connection in
            _ = try connection.query("SELECT 1")
            return connection.backendPID
        }
        #expect(newPID != replacedPID)
        await pool.shutdown()
    }

    @Test func connectionErrorsReachTheCaller() async throws {
        var configuration = try TestEnvironment.postgresConfiguration()
        configuration.password = "not-the-password-\(UUID().uuidString)"
        let pool = PostgresPool(configuration: configuration, size: 2, logger: Logger(label: "tests"))
        let error = await #expect(throws: PostgresError.self) {
            try await pool.withConnection { _ in 1 }
        }
        #expect(error?.kind == .connection)
        #expect(error?.description.contains(configuration.password!) == false)
        await pool.shutdown()
    }

    @Test func aShutDownPoolRefusesWork() async throws {
        let pool = try makePool(size: 2)
        #expect(try await pool.withConnection { _ in 1 } == 1)
        await pool.shutdown()
        #expect(pool.idleConnectionCount == 0)
        let error = await #expect(throws: PostgresError.self) {
            try await pool.withConnection { _ in 1 }
        }
        #expect(error?.kind == .connection)
    }
}
