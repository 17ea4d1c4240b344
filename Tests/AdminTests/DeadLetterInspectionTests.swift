import AMQP
import Admin
import Foundation
import Messaging
import OrderCore
import TestSupport
import Testing

/// list, peek and stats over a DLQ the real order-worker filled, checked
/// against the reasons the worker wrote and the broker's own counts.
@Suite(.timeLimit(.minutes(3))) struct DeadLetterInspectionTests {
    static let poison: [(id: String, body: [UInt8])] = [
        ("not-json", Array("this is not json".utf8)),
        ("binary", [0, 0xFF, 0xFE, 0x00, 0x01]),
        ("missing-fields", Array(#"{"orderId":"6f1c2b8e-3d4a-4e5f-9a7b-0c1d2e3f4a5b"}"#.utf8)),
        ("wrong-types", Array(#"{"orderId":42,"lines":"p1","acceptedAt":true}"#.utf8)),
        ("bad-quantity", Array(#"{"orderId":"6f1c2b8e-3d4a-4e5f-9a7b-0c1d2e3f4a5c","lines":[{"productId":"p1","quantity":-4}],"acceptedAt":"2026-01-01T00:00:00Z"}"#.utf8)),
        ("empty", []),
    ]

    /// The reason the worker must write for each poison body.
    static func expectedReason(_ body: [UInt8]) -> String {
        do {
            _ = try OrderPlaced.decode(body)
            return "none"
        } catch {
            return error.reason.rawValue
        }
    }

    @Test func listPeekAndStatsShowTheReasonsTheWorkerWroteAndAgreeWithTheBroker() async throws {
        try await DLQFixture.with { system in
            let dlq = system.ordersDLQ
            for message in Self.poison {
                try await system.publish(
                    [(message.body, AMQPProperties(contentType: "application/json", deliveryMode: .persistent, messageID: message.id))],
                    to: system.topology.orders.main)
            }
            try await system.withWorker { () async throws in
                #expect(try await system.waitForDepth(dlq, toBe: Self.poison.count) == Self.poison.count)
            }
            var expected: [String: Int] = [:]
            for message in Self.poison { expected[Self.expectedReason(message.body), default: 0] += 1 }
            #expect(expected == ["undecodable-message": 3, "invalid-message": 3])

            // list
            let listing = try await system.admin.list()
            #expect(listing.queues.map(\.queue) == system.topology.deadLetterQueues)
            let orders = try #require(listing.queues.first { $0.queue == dlq })
            #expect(orders.depth == Self.poison.count)
            #expect(orders.scanned == Self.poison.count)
            #expect(!orders.truncated)
            #expect(orders.reasons == expected)
            #expect(orders.oldestAge != nil)
            let vendor = try #require(listing.queues.first { $0.queue == system.topology.vendorSync.deadLetter })
            #expect(vendor.depth == 0 && vendor.reasons.isEmpty)
            let table = listing.render(.table)
            #expect(table.contains("invalid-message=3") && table.contains("undecodable-message=3"))
            #expect(table.contains("marked redelivered"), "the output says reading requeues")
            let json = try JSONSerialization.jsonObject(with: Data(listing.render(.json).utf8)) as? [String: Any]
            let jsonQueues = try #require(json?["queues"] as? [[String: Any]])
            #expect(jsonQueues.first { $0["queue"] as? String == dlq }?["depth"] as? Int == Self.poison.count)

            // The broker still holds every message, and says so itself.
            #expect(try await system.waitForDepth(dlq, toBe: Self.poison.count) == Self.poison.count)
            #expect(try await Management.waitForMessages(in: dlq, toBe: Self.poison.count) == Self.poison.count)

            // peek: every message, its reason, original queue and a readable body
            let peek = try await system.admin.peek(queues: [dlq], count: 10)
            let peeked = try #require(peek.queues.first).messages
            #expect(peeked.count == Self.poison.count)
            for message in peeked {
                let id = try #require(message.messageID)
                let original = try #require(Self.poison.first { $0.id == id })
                #expect(message.reason == Self.expectedReason(original.body), "\(id)")
                #expect(message.originalQueue == system.topology.orders.main)
                #expect(message.retryCount == 0)
                #expect(message.failedBy == "order-worker")
                #expect(message.errorMessage?.isEmpty == false)
                #expect(message.failedAt != nil)
                #expect(message.delivery.body == original.body)
            }
            #expect(peeked.allSatisfy { $0.delivery.redelivered }, "listing put them back, marked redelivered")
            let text = peek.render(.table)
            #expect(text.contains("reason: undecodable-message"))
            #expect(text.contains("reason: invalid-message"))
            #expect(text.contains("original queue: \(system.topology.orders.main)"))
            #expect(text.contains("body: 5 bytes, base64"), "binary bodies are shown in base64")
            #expect(text.contains("body: 16 bytes, text"))
            #expect(text.contains("\"orderId\": 42"), "JSON bodies are pretty-printed")
            #expect(text.contains("x-retry-count: 0 (int64)"))
            #expect(text.contains("marked redelivered"))
            let peekJSON = try JSONSerialization.jsonObject(with: Data(peek.render(.json).utf8)) as? [String: Any]
            let firstQueue = try #require((peekJSON?["queues"] as? [[String: Any]])?.first)
            #expect((firstQueue["messages"] as? [Any])?.count == Self.poison.count)

            #expect(try await system.waitForDepth(dlq, toBe: Self.poison.count) == Self.poison.count)
            let limited = try await system.admin.peek(queues: [dlq], count: 2)
            #expect(limited.queues.first?.messages.count == 2)
            #expect(try await system.waitForDepth(dlq, toBe: Self.poison.count) == Self.poison.count)

            // stats, three ways
            let byReason = try await system.admin.stats(groupBy: .reason)
            #expect(Dictionary(uniqueKeysWithValues: byReason.groups.map { ($0.key, $0.count) }) == expected)
            #expect(byReason.total == Self.poison.count)
            #expect(try await system.waitForDepth(dlq, toBe: Self.poison.count) == Self.poison.count)
            let byQueue = try await system.admin.stats(groupBy: .queue)
            #expect(Dictionary(uniqueKeysWithValues: byQueue.groups.map { ($0.key, $0.count) })
                == [dlq: Self.poison.count, system.topology.vendorSync.deadLetter: 0, system.topology.payments.deadLetter: 0,
                    system.topology.paymentOutcomes.deadLetter: 0, system.topology.fulfilment.deadLetter: 0])
            #expect(try await system.waitForDepth(dlq, toBe: Self.poison.count) == Self.poison.count)
            let byAge = try await system.admin.stats(groupBy: .age)
            #expect(byAge.groups.map(\.key) == ["< 1m"] || byAge.groups.map(\.key) == ["< 1m", "1m-10m"])
            #expect(byAge.total == Self.poison.count)

            // Nothing was lost by all this reading.
            #expect(try await system.waitForDepth(dlq, toBe: Self.poison.count) == Self.poison.count)
            #expect(try await Management.waitForMessages(in: dlq, toBe: Self.poison.count) == Self.poison.count)
            #expect(try await system.depth(system.topology.orders.main) == 0)
        }
    }

    /// Every read takes the messages and puts them back, and quorum queues count each
    /// return (until RabbitMQ 4.3); 4.x gives a queue without a declared limit one of
    /// 20, and 3.10 reads 4.x's "no limit" (-1) as "drop at the first return". The DLQs'
    /// own limit must survive more reads than that.
    @Test func inspectingTwentyFiveTimesNeverDropsADeadLetteredMessage() async throws {
        try await DLQFixture.with { system in
            let dlq = system.ordersDLQ
            let ids: Set = ["keep-1", "keep-2"]
            try await system.publish(ids.sorted().map { system.deadLettered((Array("{}".utf8), AMQPProperties(messageID: $0))) }, to: dlq)
            #expect(try await system.waitForDepth(dlq, toBe: 2) == 2)
            for round in 0..<25 {
                switch round % 3 {
                case 0: #expect(try await system.admin.list(queues: [dlq]).queues.first?.scanned == 2, "round \(round)")
                case 1: #expect(try await system.admin.peek(queues: [dlq], count: 5).queues.first?.messages.count == 2, "round \(round)")
                default: #expect(try await system.admin.stats(queues: [dlq], groupBy: .queue).total == 2, "round \(round)")
                }
                // (A quorum queue applies the requeues asynchronously: the depth catches up.)
                #expect(try await system.waitForDepth(dlq, toBe: 2) == 2, "round \(round)")
            }
            let messages = try #require(try await system.admin.peek(queues: [dlq], count: 5).queues.first?.messages)
            #expect(Set(messages.compactMap(\.messageID)) == ids)
            for message in messages {
                let count = message.delivery.properties.headers["x-delivery-count"]?.intValue ?? 0
                #expect(count > 20 || count == 0, "every read counted, past 4.x's default limit (or, from 4.3, basic.nack counts none): \(count)")
            }
            #expect(try await Management.waitForMessages(in: dlq, toBe: 2) == 2)
        }
    }

    @Test func scanLimitBoundsTheReadAndSaysSo() async throws {
        try await DLQFixture.with { system in
            let messages = (0..<12).map { index in
                system.deadLettered(([UInt8]("{\"n\":\(index)}".utf8), AMQPProperties(messageID: "m\(index)")), reason: index < 4 ? "deadlock" : "lock-timeout")
            }
            try await system.publish(messages, to: system.ordersDLQ)
            let admin = DeadLetterAdmin(amqpURL: TestEnvironment.amqpURL, topology: system.topology, scanLimit: 5)
            let listing = try await admin.list(queues: [system.ordersDLQ])
            let queue = try #require(listing.queues.first)
            #expect(queue.depth == 12 && queue.scanned == 5 && queue.truncated)
            #expect(queue.reasons == ["deadlock": 4, "lock-timeout": 1])
            #expect(listing.render(.table).contains("first 5 of 12 messages"))
            // A quorum queue applies requeues asynchronously: the count catches up.
            #expect(try await system.waitForDepth(system.ordersDLQ, toBe: 12) == 12)
        }
    }

    /// A message the broker dead-lettered itself (the main queue's delivery limit) carries only x-death.
    @Test func brokerDeadLetteredMessagesAreDecodedFromXDeathAndReplayedToTheirQueue() async throws {
        try await DLQFixture.with(deliveryLimit: 1) { system in
            let main = system.topology.orders.main
            try await system.publish([([UInt8]("crash loop".utf8), AMQPProperties(messageID: "looping", type: "order.placed.v1"))], to: main)
            // Deliver and give back until the broker's delivery limit sends it to the DLQ.
            let channel = try await system.broker.openChannel()
            for _ in 0..<5 {
                guard let delivery = try await channel.get(queue: main) else { break }
                try await channel.nack(delivery.deliveryTag, requeue: true)
            }
            await channel.close()
            #expect(try await system.waitForDepth(system.ordersDLQ, toBe: 1) == 1)

            let peek = try await system.admin.peek(queues: [system.ordersDLQ], count: 1)
            let message = try #require(peek.queues.first?.messages.first)
            #expect(message.deadLetteredByBroker)
            #expect(message.reason == "delivery_limit")
            #expect(message.originalQueue == main)
            #expect(message.deaths.first?.queue == main)
            #expect(message.deaths.first?.count == 1)
            #expect(message.failedAt != nil, "the time comes from x-death")
            #expect(peek.render(.table).contains("x-death: (decoded, most recent first)"))
            #expect(try await system.waitForDepth(system.ordersDLQ, toBe: 1) == 1)
            #expect((try await system.admin.list()).queues.first?.reasons == ["delivery_limit": 1])
            #expect(try await system.waitForDepth(system.ordersDLQ, toBe: 1) == 1)

            let result = try await system.admin.replay(options: TransferOptions())
            #expect(result.transferred == 1 && result.failed == 0)
            let back = try await system.drain(main)
            #expect(back.count == 1)
            let headers = try #require(back.first?.properties.headers)
            #expect(back.first?.body == Array("crash loop".utf8))
            #expect(back.first?.properties.messageID == "looping")
            for name in FailureHeaders.Name.brokerDeadLetter.subtracting(["x-delivery-count"]) { #expect(headers[name] == nil, "\(name) stripped") }
            #expect(headers["x-delivery-count"] == .int64(0), "not the DLQ's count: orders_queue counts afresh")
            #expect(headers[FailureHeaders.Name.retryCount] == .int64(0))
        }
    }
}
