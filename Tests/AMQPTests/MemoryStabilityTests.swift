import AMQP
import Foundation
import TestSupport
import Testing

/// 100,000 messages through the wrapper must not grow resident memory: every
/// C buffer (frames, messages, tables) is released. Not a timing test.
/// Resident memory is the whole process's, so this runs alone, in scripts/test's
/// second phase with the chaos tests (suites named Solo* run there).
@Suite(.serialized, .enabled(if: LocalServices.chaosEnabled, "measures the process's memory: run alone by scripts/test"))
struct SoloMemoryStabilityTests {
    private func pump(_ broker: BrokerFixture, queue: String, count: Int, publisher: AMQPChannel, consumer: AMQPChannel) async throws {
        let body = [UInt8](repeating: 7, count: 512)
        let deliveries = try await consumer.consume(queue: queue)
        async let published: Void = withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<32 {
                group.addTask {
                    for index in stride(from: worker, to: count, by: 32) {
                        try await publisher.publish(
                            body, routingKey: queue,
                            properties: AMQPProperties(headers: ["x-retry-count": .int64(Int64(index % 3)), "x-nested": ["a": "b"]],
                                                       deliveryMode: .persistent, messageID: "m\(index)"))
                    }
                }
            }
            try await group.waitForAll()
        }
        var received = 0
        for try await delivery in deliveries {
            received += 1
            // Ack in batches of 100 with `multiple`, as a batching worker does.
            if received % 100 == 0 { try await consumer.ack(delivery.deliveryTag, multiple: true) }
            if received == count { break }
        }
        try await published
        try await consumer.cancel(consumerTag: deliveries.tag)
        #expect(received == count)
    }

    @Test func hundredThousandMessagesKeepResidentMemoryStable() async throws {
        try await BrokerFixture.with { broker in
            try await broker.withQueue("memory") { queue in
                let publisher = try await broker.connection.openConfirmChannel()
                let consumer = try await broker.connection.openChannel()
                try await consumer.setPrefetch(500)
                try await pump(broker, queue: queue, count: 10_000, publisher: publisher, consumer: consumer)  // warm-up
                let before = try ProcessMemory.residentBytesInUse()
                try await pump(broker, queue: queue, count: 100_000, publisher: publisher, consumer: consumer)
                let after = try ProcessMemory.residentBytesInUse()
                let growth = after - before
                print("AMQP memory: resident before \(before / 1024) KiB, after 100,000 messages \(after / 1024) KiB, growth \(growth / 1024) KiB")
                // Each message carries a two-entry header table; leaking one (about 250 bytes)
                // per message would grow memory by 24 MiB here, a 84-byte leak by 8 MiB.
                #expect(growth < 8 * 1024 * 1024, "resident memory grew by \(growth / 1024) KiB")
            }
        }
    }
}
