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

    /// Runs `scripts/services` with `arguments`; throws with its output when it fails.
    static func run(_ arguments: String...) throws {
        let script = TestEnvironment.repositoryRoot.appendingPathComponent("scripts/services").path
        let output = try Command.run(script, arguments)
        guard output.status == 0 else {
            throw ChildProcessError(
                message: "scripts/services \(arguments.joined(separator: " ")) failed (exit \(output.status)): \(output.stdout)\(output.stderr)")
        }
    }
}
