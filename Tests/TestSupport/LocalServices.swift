import AMQP
import Foundation

/// Stops and starts the local RabbitMQ, PostgreSQL and localstripe through `scripts/services`,
/// for the chaos tests (run apart from the others by scripts/test).
public enum LocalServices {
    public enum Service: String, Sendable { case rabbitmq, postgres, localstripe }

    /// Chaos tests stop shared services, so they only run when scripts/test asks (CHAOS_TESTS=1).
    public static var chaosEnabled: Bool { ProcessInfo.processInfo.environment["CHAOS_TESTS"] == "1" }

    /// Throws when the service was not running (scripts/services exits 3), so a chaos
    /// test fails when the outage it means to cause does not happen.
    public static func stop(_ service: Service) throws { try run("stop-\(service.rawValue)") }
    public static func start(_ service: Service) throws { try run("start-\(service.rawValue)") }

    /// After a restart RabbitMQ answers before its quorum queue machinery does (541 INTERNAL_ERROR):
    /// waits until a quorum queue with at-least-once dead-lettering (as the topology declares them)
    /// can be declared. RabbitMQ 3.10.8 can lose its dead-letter supervisor (rabbit_fifo_dlx_sup)
    /// when queues are deleted while it recovers; only another restart brings it back, so after
    /// 15 s of refusals this restarts the broker once more.
    public static func waitForQuorumQueues(timeout: Duration = .seconds(90)) async throws {
        let deadline = ContinuousClock.now + timeout
        var refusingSince: ContinuousClock.Instant?
        var restarted = false
        var lastError: (any Error)?
        while ContinuousClock.now < deadline {
            do {
                let connection = try await AMQPConnection.connect(url: TestEnvironment.amqpURL, connectionName: "readiness-probe")
                let channel = try await connection.openChannel()
                let name = TestEnvironment.uniqueName("probe")
                try await channel.declareQueue(name, arguments: [
                    "x-queue-type": "quorum", "x-dead-letter-exchange": "", "x-dead-letter-routing-key": "nowhere",
                    "x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish",
                ])
                try await channel.deleteQueue(name)
                await connection.close()
                return
            } catch {
                lastError = error
                if let amqp = error as? AMQPError, amqp.replyCode == .internalError {
                    refusingSince = refusingSince ?? .now
                    if !restarted, let since = refusingSince, ContinuousClock.now - since > .seconds(15) {
                        restarted = true
                        try await Task.detached { try stop(.rabbitmq); try start(.rabbitmq) }.value
                        refusingSince = nil
                    }
                }
                try await Task.sleep(for: .milliseconds(500))
            }
        }
        throw ChildProcessError(message: "the broker did not accept quorum queues within \(timeout): \(lastError.map { "\($0)" } ?? "")")
    }

    /// posix_spawn and waitpid directly: Foundation's Process.waitUntilExit can miss the exit of a
    /// script that leaves a daemon behind (rabbitmq-server, epmd) and wait forever.
    static func run(_ arguments: String...) throws {
        let script = TestEnvironment.repositoryRoot.appendingPathComponent("scripts/services").path
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("services-\(UUID().uuidString.prefix(8)).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let command = arguments.joined(separator: " ")
        var argv: [UnsafeMutablePointer<CChar>?] = ([script] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, script, &actions, nil, &argv, environ)
        guard spawned == 0 else { throw ChildProcessError(message: "cannot run scripts/services: errno \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let exitCode = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        guard exitCode == 0 else {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw ChildProcessError(message: "scripts/services \(command) failed (exit \(exitCode)): \(text)")
        }
    }
}
