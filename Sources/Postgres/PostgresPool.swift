import Instrumentation
import Logging
import NIOPosix
import ServiceLifecycle
import Synchronization

/// A small connection pool for async callers.
///
/// libpq calls block, so they never run on Swift's cooperative pool: the
/// pool owns a `NIOThreadPool` with one thread per connection, and each job
/// checks a connection out, runs the body and checks it back in on that
/// thread. At most `size` jobs run at once (the rest queue), so a job always
/// finds a connection.
///
/// Connections open lazily on first use. A connection that is broken after a
/// job (lost, or in an unknown state) is closed and replaced by a new one on
/// a later checkout; one returned inside a transaction (the body began one
/// and did not finish it) is rolled back first, so no transaction leaks to
/// the next user. A connection whose server ended it while it sat idle (the
/// server restarted or was killed, a primary went away) is replaced on
/// checkout, so the next job connects afresh: with a multi-host
/// configuration, to whichever host now has the session attributes asked
/// for (`target_session_attrs=read-write`: the new primary). A connection
/// whose server vanished without a word is only noticed by the next query,
/// which fails with a `.connection` error (`isTransient`): retry the unit of work.
///
/// A failure to open a connection is logged once, with its cause, and again
/// only when the cause changes or connecting works again, so a wrong password
/// is one line in the log, not one per request.
///
/// The pool owns its threads and connections until it is shut down: a
/// daemon runs it as a `Service` in its ServiceGroup (listed before the
/// services that use it, so it closes after them); a one-shot caller (a
/// tool, a test) awaits ``shutdown()`` itself. Nothing closes it on `deinit`:
/// a shutdown started there would run unawaited, past the end of the program
/// or the test that dropped it.
public final class PostgresPool: Service, Sendable {
    public let configuration: PostgresConfiguration
    public let size: Int
    private let logger: Logger
    private let threadPool: NIOThreadPool
    private let state = Mutex(State())

    private struct State {
        var idle: [ConnectionBox] = []
        var isShutdown = false
        /// Why the last attempt to open a connection failed (``PostgresError/reason``); nil after a success.
        var connectFailure: String?
    }

    /// A connection is only ever touched by the one job that checked it out,
    /// or by nobody while it sits in `idle` (guarded by the mutex).
    private struct ConnectionBox: @unchecked Sendable {
        let connection: PostgresConnection
    }

    public init(configuration: PostgresConfiguration, size: Int, logger: Logger) {
        precondition(size > 0, "a pool needs at least one connection")
        self.configuration = configuration
        self.size = size
        self.logger = logger
        self.threadPool = NIOThreadPool(numberOfThreads: size)
        self.threadPool.start()
    }

    /// Lends a connection to `body` on one of the pool's threads. The
    /// caller's `ServiceContext` is current in `body` too (a task-local stays
    /// behind on the caller's task otherwise), so what the body logs and
    /// writes belongs to the caller's trace.
    @discardableResult
    public func withConnection<T: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) throws -> T
    ) async throws -> T {
        guard !isShutdown else { throw Self.poolShutDown }
        let context = ServiceContext.current
        do {
            return try await threadPool.runIfActive { [self] in
                let box = try self.checkOut()
                defer { self.checkIn(box) }
                return try ServiceContext.withValue(context) { try body(box.connection) }
            }
        } catch is CancellationError where isShutdown {
            throw Self.poolShutDown  // queued when the pool shut down
        }
    }

    /// `withConnection` + ``PostgresConnection/withTransaction(isolation:_:)``:
    /// commits when `body` returns, rolls back when it throws.
    @discardableResult
    public func withTransaction<T: Sendable>(
        isolation: IsolationLevel = .readCommitted,
        _ body: @escaping @Sendable (PostgresConnection) throws -> T
    ) async throws -> T {
        try await withConnection { connection in
            try connection.withTransaction(isolation: isolation, body)
        }
    }

    /// Opens a connection at once, so that a database the daemon cannot use
    /// (a wrong password, an unknown database, nothing listening) is in the
    /// log when it starts rather than at its first request; then serves until
    /// graceful shutdown (or cancellation), and shuts the pool down.
    public func run() async throws {
        try? await withConnection { _ in }
        try? await gracefulShutdown()
        await shutdown()
    }

    /// Stops accepting work, lets running jobs finish (queued ones fail with
    /// `CancellationError`) and closes every connection.
    /// A second call returns at once (the first one waits for the threads).
    public func shutdown() async {
        let (idle, wasShutdown) = state.withLock { state in
            defer { (state.idle, state.isShutdown) = ([], true) }
            return (state.idle, state.isShutdown)
        }
        idle.forEach { $0.connection.close() }
        guard !wasShutdown else { return }
        do {
            try await threadPool.shutdownGracefully()
        } catch {
            logger.warning("postgres pool: thread pool shutdown failed", metadata: ["error": "\(error)"])
        }
        // Jobs that were running at shutdown closed their connections on check-in.
        let late = state.withLock { state in
            defer { state.idle = [] }
            return state.idle
        }
        late.forEach { $0.connection.close() }
    }

    /// Connections waiting in the pool (opened and healthy when returned).
    public var idleConnectionCount: Int {
        state.withLock { $0.idle.count }
    }

    private var isShutdown: Bool {
        state.withLock { $0.isShutdown }
    }

    private static let poolShutDown = PostgresError(kind: .connection, message: "the connection pool is shut down")

    // MARK: - Check-out / check-in (on a pool thread)

    private func checkOut() throws -> ConnectionBox {
        let reusable = state.withLock { state -> ConnectionBox? in
            state.isShutdown ? nil : state.idle.popLast()
        }
        if let reusable {
            if reusable.connection.isHealthy && reusable.connection.transactionStatus == .idle && !reusable.connection.serverHasClosed() {
                return reusable
            }
            reusable.connection.close()
        }
        guard !isShutdown else { throw Self.poolShutDown }
        let connection = try open()
        logger.debug("postgres pool: opened a connection", metadata: [
            "postgres_backend_pid": "\(connection.backendPID)",
            "database_url": "\(configuration.redactedURL)",
        ])
        return ConnectionBox(connection: connection)
    }

    private func open() throws(PostgresError) -> PostgresConnection {
        do throws(PostgresError) {
            let connection = try PostgresConnection(configuration: configuration)
            noteConnectOutcome(nil)
            return connection
        } catch {
            noteConnectOutcome(error)
            throw error
        }
    }

    /// Logs the first failure to connect, each change of its cause, and the recovery.
    private func noteConnectOutcome(_ failure: PostgresError?) {
        let reason = failure?.reason
        let previous = state.withLock { state in
            defer { state.connectFailure = reason }
            return state.connectFailure
        }
        guard reason != previous else { return }
        if let failure {
            logger.error("postgres pool: cannot connect", metadata: [
                "database_url": "\(configuration.redactedURL)", "error": "\(failure)",
            ])
        } else {
            logger.info("postgres pool: connected again", metadata: ["database_url": "\(configuration.redactedURL)"])
        }
    }

    private func checkIn(_ box: ConnectionBox) {
        let connection = box.connection
        let status = connection.transactionStatus
        if status == .inTransaction || status == .inError {
            logger.warning("postgres pool: a connection came back inside a transaction; rolling it back")
            connection.rollbackIfInTransaction()
        }
        guard connection.isHealthy, connection.transactionStatus == .idle else {
            logger.warning("postgres pool: discarding a broken connection", metadata: [
                "postgres_backend_pid": "\(connection.backendPID)",
            ])
            connection.close()
            return
        }
        let keep = state.withLock { state -> Bool in
            guard !state.isShutdown else { return false }
            state.idle.append(box)
            return true
        }
        if !keep { connection.close() }
    }
}
