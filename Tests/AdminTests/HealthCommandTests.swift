import AMQP
import Admin
import Foundation
import TestSupport
import Testing

/// `orderctl health`, the compose services' healthcheck, through the real binary:
/// exit 0 healthy, 1 unhealthy (Docker's two codes), 2 bad usage.
@Suite(.timeLimit(.minutes(2))) struct HealthCommandTests {
    /// The management API's address without its credentials: it answers its index page
    /// (2xx) to anyone and refuses its API (401) without a login.
    private static func managementAddress() throws -> String {
        let management = try #require(URLComponents(string: TestEnvironment.managementURL))
        return "\(management.scheme ?? "http")://\(management.host ?? "127.0.0.1"):\(management.port ?? 15672)"
    }

    @Test func httpHealthyOnlyOn2xx() throws {
        let address = try Self.managementAddress()

        let healthy = try Command.orderctl(["health", "--url", "\(address)/"])
        #expect(healthy.status == ExitStatus.success, "\(healthy.stderr)")
        #expect(healthy.stdout.hasPrefix("GET \(address)/: 200"), "\(healthy.stdout)")

        let refused = try Command.orderctl(["health", "--url", "\(address)/api/overview"])
        #expect(refused.status == ExitStatus.failure)
        #expect(refused.stderr.hasPrefix("orderctl: unhealthy: GET \(address)/api/overview: 401"), "\(refused.stderr)")

        let nobody = try Command.orderctl(["health", "--url", "http://127.0.0.1:1/health/ready", "--timeout", "2"])
        #expect(nobody.status == ExitStatus.failure)
        #expect(nobody.stderr.contains("no answer"), "\(nobody.stderr)")
    }

    @Test func consumersHealthyOnlyWhileTheQueueHasOne() async throws {
        let queue = TestEnvironment.uniqueName("health")
        let connection = try await AMQPConnection.connect(url: TestEnvironment.amqpURL, connectionName: "health-command-tests")
        do {
            let missing = try Command.orderctl(["health", "--consumers-on", queue])
            #expect(missing.status == ExitStatus.failure, "no such queue: \(missing.stdout)")

            let channel = try await connection.openChannel()
            try await channel.declareQueue(queue, durable: false, autoDelete: false)
            let idle = try Command.orderctl(["health", "--consumers-on", queue])
            #expect(idle.status == ExitStatus.failure)
            #expect(idle.stderr.contains("\(queue): 0 consumer(s)"), "\(idle.stderr)")

            let consumer = try await connection.openChannel()
            // Held until the check is done: a dropped consumer sequence cancels the consumer.
            let deliveries = try await consumer.consume(queue: queue, consumerTag: "health-check")
            let consuming = try withExtendedLifetime(deliveries) { try Command.orderctl(["health", "--consumers-on", queue]) }
            #expect(consuming.status == ExitStatus.success, "\(consuming.stderr)")
            #expect(consuming.stdout.hasPrefix("\(queue): 1 consumer(s)"), "\(consuming.stdout)")

            try await consumer.cancel(consumerTag: "health-check")
            _ = try await channel.deleteQueue(queue)
        } catch {
            await connection.close()
            throw error
        }
        await connection.close()
    }

    @Test func exactlyOneCheckOrBadUsage() throws {
        #expect(try Command.orderctl(["health"]).status == ExitStatus.usage)
        #expect(try Command.orderctl(["health", "--url", "http://127.0.0.1:1/", "--consumers-on", "q"]).status == ExitStatus.usage)
        #expect(try Command.orderctl(["health", "--url", "http://127.0.0.1:1/", "--timeout", "0"]).status == ExitStatus.usage)
    }
}
