import Logging
import Postgres
import Synchronization
import TestSupport
import Testing

/// What a failed connection says (`PostgresError.reason`) and how often a pool logs it.
@Suite(.timeLimit(.minutes(1))) struct ConnectionFailureTests {
    @Test func theReasonOfARealFailureNamesTheCauseAndNothingElse() throws {
        let secret = "Wrong-Secret-7d1f"
        var wrongPassword = try TestEnvironment.postgresConfiguration()
        wrongPassword.password = secret
        var unknownDatabase = try TestEnvironment.postgresConfiguration()
        unknownDatabase.database = TestEnvironment.uniqueIdentifier("no_such_db")
        var nothingListening = try TestEnvironment.postgresConfiguration()
        nothingListening.endpoints[0].port = 1
        let cases: [(PostgresConfiguration, String)] = [
            (wrongPassword, "password authentication failed for user \"\(wrongPassword.user)\""),
            (unknownDatabase, "database \"\(unknownDatabase.database)\" does not exist"),
            (nothingListening, "Connection refused"),
        ]
        for (configuration, reason) in cases {
            let error = #expect(throws: PostgresError.self) { try PostgresConnection(configuration: configuration) }
            #expect(error?.reason == reason, "\(error.map { "\($0)" } ?? "")")
            #expect(error.map { !"\($0)".contains(secret) } ?? false)
        }
    }

    @Test func theReasonOfOtherErrorsIsTheirDescription() {
        let error = PostgresError(kind: .server, code: .uniqueViolation, message: "duplicate key value", constraintName: "orders_pkey")
        #expect(error.reason == error.description)
    }

    /// One line per change, not one per attempt: connected, then the database
    /// vanishes (one error, however many attempts), then it is back (one info line).
    @Test func aPoolLogsEachChangeOfItsConnectionOutcomeOnce() async throws {
        let records = LogRecords()
        let logger = Logger(label: "tests.pool-failures") { _ in RecordingLogHandler(records: records) }
        let configuration = try TestEnvironment.createThrowawayDatabase("pool_outcome")
        defer { TestEnvironment.dropThrowawayDatabase(configuration.database) }
        let pool = PostgresPool(configuration: configuration, size: 1, logger: logger)

        try await pool.withConnection { try $0.query("SELECT 1") }
        #expect(records.lines(at: .error).isEmpty && records.lines(at: .info).isEmpty, "a first success is not news")

        TestEnvironment.dropThrowawayDatabase(configuration.database)
        // The idle connection died with the database; the attempts after it cannot open one.
        for _ in 0..<4 { _ = try? await pool.withConnection { try $0.query("SELECT 1") } }
        let errors = records.lines(at: .error)
        #expect(errors.count == 1, "\(errors)")
        #expect(errors.first?.message == "postgres pool: cannot connect")
        #expect(errors.first?.error.contains("database \"\(configuration.database)\" does not exist") == true, "\(errors)")

        let admin = try TestEnvironment.connectPostgres()
        try admin.executeScript("CREATE DATABASE \"\(configuration.database)\"")
        admin.close()
        try await pool.withConnection { try $0.query("SELECT 1") }
        try await pool.withConnection { try $0.query("SELECT 1") }
        #expect(records.lines(at: .info).map(\.message) == ["postgres pool: connected again"])
        #expect(records.lines(at: .error).count == 1)
        await pool.shutdown()
    }

    @Test func aPoolRunAsAServiceLogsAWrongPasswordAtStartAndOnlyOnce() async throws {
        let secret = "Wrong-Secret-90ab"
        let records = LogRecords()
        let logger = Logger(label: "tests.pool-password") { _ in RecordingLogHandler(records: records) }
        var configuration = try TestEnvironment.postgresConfiguration()
        configuration.password = secret
        let pool = PostgresPool(configuration: configuration, size: 2, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await pool.run() }
            // The start-up attempt alone logs the cause, before anyone asks for a connection.
            let deadline = ContinuousClock.now + .seconds(10)
            while records.lines(at: .error).isEmpty, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            for _ in 0..<3 { _ = try? await pool.withConnection { try $0.query("SELECT 1") } }
            tasks.cancelAll()
            try await tasks.waitForAll()
        }
        let errors = records.lines(at: .error)
        #expect(errors.count == 1, "\(errors)")
        #expect(errors.first?.error.contains("password authentication failed for user \"\(configuration.user)\"") == true, "\(errors)")
        #expect(!errors.contains { $0.error.contains(secret) })
    }
}

/// What a ``RecordingLogHandler`` saw.
final class LogRecords: Sendable {
    struct Line: Sendable {
        let level: Logger.Level
        let message: String
        /// The `error` metadata, or "".
        let error: String
    }

    private let lines = Mutex<[Line]>([])

    func append(_ line: Line) { lines.withLock { $0.append(line) } }

    func lines(at level: Logger.Level) -> [Line] { lines.withLock { $0.filter { $0.level == level } } }
}

struct RecordingLogHandler: LogHandler {
    let records: LogRecords
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        records.append(.init(level: event.level, message: "\(event.message)", error: event.metadata?["error"].map { "\($0)" } ?? ""))
    }
}

/// The FaultProxy the outage tests stand between a process and PostgreSQL: a cut
/// looks like a stopped server (an open connection fails, a new one is refused,
/// both `isUnavailable`), a restore like one started again.
@Suite(.timeLimit(.minutes(1))) struct FaultProxyTests {
    @Test func aCutLooksLikeAStoppedServerAndARestoreLikeOneStartedAgain() async throws {
        let direct = try TestEnvironment.postgresConfiguration()
        let proxy = try await FaultProxy(targetHost: direct.endpoints[0].host, targetPort: direct.endpoints[0].port)
        var configuration = direct
        configuration.endpoints = [.init(host: "127.0.0.1", port: proxy.port)]
        configuration.connectTimeout = 2
        let connection = try PostgresConnection(configuration: configuration)
        #expect(try connection.query("SELECT 41 + 1").first?.decode(0, as: Int.self) == 42)
        await proxy.cut()
        let broken = #expect(throws: PostgresError.self) { try connection.query("SELECT 1") }
        #expect(broken?.isUnavailable == true, "\(broken.map { "\($0)" } ?? "")")
        let refused = #expect(throws: PostgresError.self) { try PostgresConnection(configuration: configuration) }
        #expect(refused?.isUnavailable == true)
        #expect(refused?.reason == "Connection refused", "\(refused.map { "\($0)" } ?? "")")
        try await proxy.restore()
        let again = try PostgresConnection(configuration: configuration)
        #expect(try again.query("SELECT 7").first?.decode(0, as: Int.self) == 7)
        #expect(proxy.acceptedConnections == 2)
        await proxy.shutdown()
    }
}
