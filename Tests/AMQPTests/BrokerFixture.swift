import AMQP
import Foundation
import TestSupport
import Testing

/// A connection to the live broker and throwaway queues that are deleted afterwards.
struct BrokerFixture {
    let connection: AMQPConnection
    let channel: AMQPChannel

    static func with<T>(_ body: (BrokerFixture) async throws -> T) async throws -> T {
        let connection = try await AMQPConnection.connect(url: TestEnvironment.amqpURL, connectionName: "amqp-tests")
        let channel = try await connection.openChannel()
        let fixture = BrokerFixture(connection: connection, channel: channel)
        do {
            let result = try await body(fixture)
            await connection.close()
            return result
        } catch {
            await connection.close()
            throw error
        }
    }

    /// Declares a durable quorum queue with a unique name, runs `body`, deletes the queue.
    func withQueue<T>(_ prefix: String, quorum: Bool = true, _ body: (String) async throws -> T) async throws -> T {
        let name = TestEnvironment.uniqueName("test-\(prefix)")
        try await channel.declareQueue(name, durable: true, arguments: quorum ? ["x-queue-type": "quorum"] : [:])
        do {
            let result = try await body(name)
            try? await deleteQueue(name)
            return result
        } catch {
            try? await deleteQueue(name)
            throw error
        }
    }

    private func deleteQueue(_ name: String) async throws {
        // The test's channel may be dead on purpose: delete on a fresh one.
        let cleanup = try await connection.openChannel()
        try await cleanup.deleteQueue(name)
        await cleanup.close()
    }

    /// Waits until `queue` reports `count` ready messages (quorum queues update counts asynchronously).
    func waitForDepth(_ queue: String, _ count: UInt32, timeout: Duration = .seconds(10)) async throws -> UInt32 {
        UInt32(try await connection.waitForDepth(of: queue, timeout: timeout) { $0 == Int(count) })
    }
}
