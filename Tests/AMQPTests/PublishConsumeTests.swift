import AMQP
import Foundation
import TestSupport
import Testing

@Suite(.serialized) struct PublishConsumeTests {
    /// Every kind of content the system sends must survive the round trip.
    static func sample(_ index: Int) -> (body: [UInt8], properties: AMQPProperties) {
        let body: [UInt8]
        switch index % 3 {
        case 0: body = [0, 1, 2, 0, 255, 0] + withUnsafeBytes(of: UInt32(index).bigEndian, Array.init)  // binary with zero bytes
        case 1: body = Array("commande n°\(index) — ünïcödé ✓ 注文".utf8)
        default: body = Array(#"{"orderId":"\#(index)","items":[{"productId":"p1","quantity":2}]}"#.utf8)
        }
        let properties = AMQPProperties(
            contentType: index % 3 == 2 ? "application/json" : "application/octet-stream",
            headers: [
                "x-retry-count": .int64(Int64(index % 4)),
                "x-error": ["reason": "transient", "attempts": [1, 2, 3], "nested": ["deep": true]],
                "x-text": .string("ünïcödé-\(index)"),
            ],
            deliveryMode: .persistent,
            correlationID: "corr-\(index)",
            messageID: "msg-\(index)",
            timestamp: Date(timeIntervalSince1970: 1_700_000_000 + Double(index)),
            type: "test.v1"
        )
        return (body, properties)
    }

    @Test func tenThousandConfirmedMessagesRoundTripIntact() async throws {
        let total = 10_000
        try await BrokerFixture.with { broker in
            try await broker.withQueue("roundtrip") { queue in
                let publisher = try await broker.connection.openConfirmChannel()
                // Many publishes in flight on one confirm channel, each waiting for its own ack.
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for worker in 0..<50 {
                        group.addTask {
                            for index in stride(from: worker, to: total, by: 50) {
                                let (body, properties) = Self.sample(index)
                                try await publisher.publish(body, routingKey: queue, mandatory: true, properties: properties)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                #expect(try await broker.waitForDepth(queue, UInt32(total)) == UInt32(total))

                let consumerChannel = try await broker.connection.openChannel()
                try await consumerChannel.setPrefetch(200)
                let consumer = try await consumerChannel.consume(queue: queue)
                var seen = Set<Int>()
                var mismatches: [String] = []
                for try await delivery in consumer {
                    guard let id = delivery.properties.messageID, let index = Int(id.dropFirst(4)) else {
                        mismatches.append("no message id")
                        continue
                    }
                    let (body, properties) = Self.sample(index)
                    if delivery.body != body { mismatches.append("body of \(id)") }
                    if delivery.properties != properties { mismatches.append("properties of \(id): \(delivery.properties)") }
                    seen.insert(index)
                    try await consumerChannel.ack(delivery.deliveryTag)
                    if seen.count == total { break }
                }
                #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
                #expect(seen.count == total)
                #expect(try await broker.waitForDepth(queue, 0) == 0)
                // The integer header keeps its type.
                #expect(Self.sample(5).properties.headers["x-retry-count"] == .int64(1))
            }
        }
    }

    @Test func mandatoryPublishToAMissingQueueIsAnError() async throws {
        try await BrokerFixture.with { broker in
            let publisher = try await broker.connection.openConfirmChannel()
            let error = await #expect(throws: AMQPError.self) {
                try await publisher.publish(Array("lost?".utf8), routingKey: "no-such-queue-\(UUID())", mandatory: true,
                                            properties: AMQPProperties(messageID: "m-1"))
            }
            #expect(error?.kind == .returned)
            #expect(error?.replyCode == .noRoute)
            #expect(error?.isChannelDead == false)
            // The channel is still usable after a return.
            try await broker.withQueue("after-return") { queue in
                try await publisher.publish([1], routingKey: queue, mandatory: true)
            }
        }
    }

    @Test func aBatchPublishIsConfirmedAsAWholeAndKeepsOrder() async throws {
        try await BrokerFixture.with { broker in
            try await broker.withQueue("batch") { queue in
                let publisher = try await broker.connection.openConfirmChannel()
                let messages = (0..<500).map { index in
                    AMQPOutgoingMessage(Self.sample(index).body, routingKey: queue, mandatory: true, properties: Self.sample(index).properties)
                }
                try await publisher.publish(messages)
                try await publisher.publish([])  // nothing to do, returns at once
                #expect(try await broker.waitForDepth(queue, 500) == 500)
                var received: [[UInt8]] = []
                while let delivery = try await broker.channel.get(queue: queue, noAck: true) { received.append(delivery.body) }
                #expect(received == messages.map(\.body))
            }
        }
    }

    @Test func aBatchWithOneUnroutableMessageFailsAfterTheOthersArrive() async throws {
        try await BrokerFixture.with { broker in
            try await broker.withQueue("batch-return") { queue in
                let publisher = try await broker.connection.openConfirmChannel()
                let messages = [
                    AMQPOutgoingMessage([1], routingKey: queue, mandatory: true, properties: AMQPProperties(messageID: "a")),
                    AMQPOutgoingMessage([2], routingKey: "no-such-queue-\(UUID())", mandatory: true, properties: AMQPProperties(messageID: "b")),
                    AMQPOutgoingMessage([3], routingKey: queue, mandatory: true, properties: AMQPProperties(messageID: "c")),
                ]
                let error = await #expect(throws: AMQPError.self) { try await publisher.publish(messages) }
                #expect(error?.kind == .returned)
                #expect(try await broker.waitForDepth(queue, 2) == 2)
                // The channel stays usable, and its confirms still line up.
                try await publisher.publish([AMQPOutgoingMessage([4], routingKey: queue, mandatory: true)])
                #expect(try await broker.waitForDepth(queue, 3) == 3)
            }
        }
    }

    @Test func publishingToAMissingExchangeClosesTheChannelWith404() async throws {
        try await BrokerFixture.with { broker in
            let publisher = try await broker.connection.openConfirmChannel()
            let error = await #expect(throws: AMQPError.self) {
                try await publisher.publish([1], exchange: "no-such-exchange-\(UUID())", routingKey: "x")
            }
            #expect(error?.replyCode == .notFound)
            #expect(error?.isChannelDead == true)
            #expect(error?.isConnectionDead == false)
            #expect(broker.connection.isOpen)
            await #expect(throws: AMQPError.self) { try await publisher.publish([1], routingKey: "x") }
        }
    }

    @Test func passiveDeclareOfAMissingQueueIs404() async throws {
        try await BrokerFixture.with { broker in
            let error = await #expect(throws: AMQPError.self) {
                try await broker.channel.declareQueue("no-such-queue-\(UUID())", passive: true)
            }
            #expect(error?.kind == .channelClosed)
            #expect(error?.replyCode == .notFound)
        }
    }

    @Test func redeclaringWithOtherArgumentsIs406() async throws {
        try await BrokerFixture.with { broker in
            try await broker.withQueue("mismatch") { queue in
                let channel = try await broker.connection.openChannel()
                let error = await #expect(throws: AMQPError.self) {
                    try await channel.declareQueue(queue, arguments: ["x-queue-type": "quorum", "x-delivery-limit": 3])
                }
                #expect(error?.replyCode == .preconditionFailed)
                #expect(error?.message.contains("x-delivery-limit") == true)
            }
        }
    }

    @Test func ackNackAndRejectSingleAndMultiple() async throws {
        try await BrokerFixture.with { broker in
            try await broker.withQueue("acks", quorum: false) { queue in
                let publisher = try await broker.connection.openConfirmChannel()
                for index in 0..<6 {
                    try await publisher.publish(Array("m\(index)".utf8), routingKey: queue, properties: AMQPProperties(messageID: "m\(index)"))
                }
                let channel = try await broker.connection.openChannel()
                try await channel.setPrefetch(10)
                var iterator = try await channel.consume(queue: queue).makeAsyncIterator()
                var tags: [UInt64] = []
                for _ in 0..<6 { tags.append(try #require(try await iterator.next()).deliveryTag) }
                try await channel.ack(tags[1], multiple: true)  // m0, m1
                try await channel.reject(tags[2], requeue: false)  // m2 dropped
                try await channel.nack(tags[4], multiple: true, requeue: true)  // m3, m4 back
                try await channel.ack(tags[5])  // m5
                var redelivered: [String: Bool] = [:]
                for _ in 0..<2 {
                    let delivery = try #require(try await iterator.next())
                    redelivered[delivery.properties.messageID ?? "?"] = delivery.redelivered
                    try await channel.ack(delivery.deliveryTag)
                }
                #expect(redelivered == ["m3": true, "m4": true])
                #expect(try await broker.waitForDepth(queue, 0) == 0)
            }
        }
    }

    @Test func basicGetReturnsMessagesThenNil() async throws {
        try await BrokerFixture.with { broker in
            try await broker.withQueue("get") { queue in
                let publisher = try await broker.connection.openConfirmChannel()
                try await publisher.publish([0, 42, 0], routingKey: queue, properties: AMQPProperties(headers: ["k": 1]))
                let first = try #require(try await broker.channel.get(queue: queue))
                #expect(first.body == [0, 42, 0])
                #expect(first.properties.headers["k"] == .int64(1))
                #expect(first.messagesRemaining == 0)
                try await broker.channel.ack(first.deliveryTag)
                #expect(try await broker.channel.get(queue: queue) == nil)
            }
        }
    }

    @Test func consumerEndsWithAnErrorWhenItsQueueIsDeleted() async throws {
        try await BrokerFixture.with { broker in
            let queue = TestEnvironment.uniqueName("test-cancel")
            try await broker.channel.declareQueue(queue, arguments: ["x-queue-type": "quorum"])
            let channel = try await broker.connection.openChannel()
            try await channel.setPrefetch(1)
            let consumer = try await channel.consume(queue: queue)
            try await broker.channel.deleteQueue(queue)
            await #expect(throws: AMQPError.self) {
                for try await _ in consumer {}
            }
        }
    }
}

@Suite struct ConnectionFailureTests {
    @Test func unreachableBrokerIsAConnectionError() async throws {
        let error = await #expect(throws: AMQPError.self) {
            _ = try await AMQPConnection.connect(url: "amqp://guest:guest@127.0.0.1:1/%2F?connection_timeout=1000")
        }
        #expect(error?.kind == .connectionFailed)
        #expect(error?.isConnectionDead == true)
    }

    @Test func wrongPasswordIsRefusedWithoutEchoingIt() async throws {
        var config = try AMQPConfiguration(url: TestEnvironment.amqpURL)
        config.password = "definitely-wrong-secret"
        let error = await #expect(throws: AMQPError.self) { _ = try await AMQPConnection.connect(config) }
        #expect(error?.isConnectionDead == true)
        #expect(error.map { "\($0)".contains("definitely-wrong-secret") } == false)
    }

    @Test func idleConnectionSurvivesOnHeartbeats() async throws {
        var config = try AMQPConfiguration(url: TestEnvironment.amqpURL)
        config.heartbeat = 1
        config.connectionName = TestEnvironment.uniqueName("heartbeat")
        let connection = try await AMQPConnection.connect(config)
        let channel = try await connection.openChannel()
        // Four heartbeat intervals with no traffic from us: the broker would close a silent client after two.
        try await Task.sleep(for: .seconds(4))
        #expect(connection.isOpen)
        // The broker agreed to 1 s: with heartbeats off (0) or its default (60 s), four idle seconds would prove nothing.
        var negotiated = try Management.negotiatedHeartbeat(ofConnectionNamed: config.connectionName)
        let deadline = ContinuousClock.now + .seconds(10)
        while negotiated == nil, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(250))
            negotiated = try Management.negotiatedHeartbeat(ofConnectionNamed: config.connectionName)
        }
        #expect(negotiated == 1)
        let queue = try await channel.declareQueue("", durable: false, exclusive: true, autoDelete: true)
        #expect(queue.name.hasPrefix("amq.gen"))
        await connection.close()
        #expect(!connection.isOpen)
    }
}
