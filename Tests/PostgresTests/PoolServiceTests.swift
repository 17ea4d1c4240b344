import Logging
import Postgres
import ServiceLifecycle
import TestSupport
import Testing

/// The pool as a daemon runs it: a `Service` in a ServiceGroup.
@Suite(.timeLimit(.minutes(1))) struct PoolServiceTests {
    @Test func aPoolRunAsAServiceClosesAtGracefulShutdown() async throws {
        let logger = Logger(label: "tests.postgres-pool-service")
        let pool = PostgresPool(configuration: try TestEnvironment.postgresConfiguration(), size: 1, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [pool], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            #expect(try await pool.withConnection { _ in 1 } == 1)
            #expect(pool.idleConnectionCount == 1)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(pool.idleConnectionCount == 0)
        let error = await #expect(throws: PostgresError.self) {
            try await pool.withConnection { _ in 1 }
        }
        #expect(error?.kind == .connection)
    }
}
