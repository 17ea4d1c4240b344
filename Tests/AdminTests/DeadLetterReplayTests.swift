import AMQP
import Admin
import Foundation
import Messaging
import OrderCore
import TestSupport
import Testing

@Suite(.timeLimit(.minutes(3))) struct DeadLetterReplayTests {
    /// Four messages that differ in reason, age and id.
    static func fill(_ system: DLQFixture) async throws -> [(body: [UInt8], properties: AMQPProperties)] {
        let now = Date()
        let messages = [
            system.deadLettered(message("a"), reason: "database-unavailable", failedAt: now.addingTimeInterval(-3 * 3600)),
            system.deadLettered(message("b"), reason: "database-unavailable", failedAt: now.addingTimeInterval(-60)),
            system.deadLettered(message("c"), reason: "lock-timeout", failedAt: now.addingTimeInterval(-5 * 3600)),
            system.deadLettered(message("d"), reason: "invalid-message", retries: 0, failedAt: now.addingTimeInterval(-10)),
        ]
        try await system.publish(messages, to: system.ordersDLQ)
        return messages
    }

    static func message(_ id: String) -> (body: [UInt8], properties: AMQPProperties) {
        var properties = AMQPProperties(
            contentType: "application/json", deliveryMode: .persistent, correlationID: "corr-\(id)", messageID: id,
            timestamp: Date(timeIntervalSince1970: 1_767_225_600), type: OrderPlaced.messageType, appID: "order-api")
        properties.headers["x-tenant"] = .string("shop-1")
        return (Array(#"{"id":"\#(id)","bytes":"é\u{0001}"}"#.utf8), properties)
    }

    @Test func replayFiltersResetTheRetryStateAndKeepTheMessage() async throws {
        try await DLQFixture.with { system in
            let messages = try await Self.fill(system)
            let main = system.topology.orders.main

            // A dry run changes nothing.
            let dry = try await system.admin.replay(options: TransferOptions(filter: DeadLetterFilter(reasons: ["database-unavailable"]), dryRun: true))
            #expect(dry.transferred == 2 && dry.skipped == 2 && dry.failed == 0)
            #expect(dry.summary.hasPrefix("dry run: would replay 2, skipped 2, failed 0"))
            #expect(try await system.waitForDepth(system.ordersDLQ, toBe: 4) == 4)
            #expect(try await system.depth(main) == 0)

            // --reason and --older-than together: only "a".
            let first = try await system.admin.replay(
                options: TransferOptions(filter: DeadLetterFilter(reasons: ["database-unavailable"], olderThan: 3600), rate: 50))
            #expect(first.transferred == 1 && first.skipped == 3 && first.failed == 0)
            #expect(first.summary == "replayed 1, skipped 3, failed 0")
            #expect(first.targets == [main: 1])
            // Requeued messages count again once the quorum queue applied the returns (asynchronously).
            #expect(try await system.waitForDepth(system.ordersDLQ, toBe: 3) == 3)

            let replayed = try await system.drain(main)
            #expect(replayed.count == 1)
            let copy = try #require(replayed.first)
            let original = messages[0]
            #expect(copy.body == original.body, "the body is kept byte for byte")
            #expect(copy.properties.messageID == "a")
            #expect(copy.properties.correlationID == "corr-a")
            #expect(copy.properties.type == OrderPlaced.messageType)
            #expect(copy.properties.timestamp == original.properties.timestamp)
            #expect(copy.properties.appID == "order-api")
            #expect(copy.properties.contentType == "application/json")
            #expect(copy.properties.deliveryMode == .persistent)
            let headers = copy.properties.headers
            #expect(headers[FailureHeaders.Name.retryCount] == .int64(0))
            for name in FailureHeaders.Name.failure.union(FailureHeaders.Name.brokerDeadLetter).subtracting(["x-delivery-count"]) {
                #expect(headers[name] == nil, "\(name) is removed")
            }
            // The dry run's read made the DLQ copy's x-delivery-count 1; orders_queue counts afresh (a quorum queue adds 0).
            #expect(headers["x-delivery-count"] == nil || headers["x-delivery-count"] == .int64(0))
            #expect(headers[FailureHeaders.Name.replayCount] == .int64(1))
            #expect(headers[FailureHeaders.Name.replayedAt] != nil)
            #expect(headers["x-tenant"] == .string("shop-1"), "other headers are kept")

            // --message-id
            let byID = try await system.admin.replay(options: TransferOptions(filter: DeadLetterFilter(messageIDs: ["d"])))
            #expect(byID.transferred == 1 && byID.skipped == 2)
            #expect(try await system.drain(main).map(\.properties.messageID) == ["d"])
            #expect(try await system.waitForDepth(system.ordersDLQ, toBe: 2) == 2)

            // --limit
            let limited = try await system.admin.replay(options: TransferOptions(limit: 1))
            #expect(limited.transferred == 1)
            #expect(try await system.waitForDepth(system.ordersDLQ, toBe: 1) == 1)
            #expect(try await system.depth(main) == 1)

            // The rest; then there is nothing left to do.
            let rest = try await system.admin.replay(options: TransferOptions())
            #expect(rest.transferred == 1 && rest.skipped == 0)
            let again = try await system.admin.replay(options: TransferOptions())
            #expect(again.transferred == 0 && again.skipped == 0 && again.failed == 0)
            #expect(try await system.depth(system.ordersDLQ) == 0)
            #expect(Set(try await system.drain(main).compactMap(\.properties.messageID)) == ["b", "c"])
        }
    }

    @Test func messagesThatCannotGoBackStayInTheDLQ() async throws {
        try await DLQFixture.with { system in
            var unroutable = system.deadLettered(Self.message("gone"))
            unroutable.properties.headers[FailureHeaders.Name.originalQueue] = .string(system.prefix + "no-such-queue")
            try await system.publish([unroutable, system.deadLettered(Self.message("fine"))], to: system.ordersDLQ)

            let result = try await system.admin.replay(options: TransferOptions())
            #expect(result.transferred == 1 && result.failed == 1 && result.skipped == 0)
            #expect(result.failures.map(\.messageID) == ["gone"])
            #expect(result.render(.table).hasSuffix("replayed 1, skipped 0, failed 1"))
            #expect(try await system.waitForDepth(system.ordersDLQ, toBe: 1) == 1, "the failed message is put back")
            #expect(try await system.drain(system.topology.orders.main).map(\.properties.messageID) == ["fine"])

            // A queue outside the topology, with no header saying where its message came from.
            let stray = try await system.extraQueue("stray")
            try await system.publish([([1, 2, 3], AMQPProperties(messageID: "nowhere"))], to: stray)
            let strayResult = try await system.admin.replay(queues: [stray], options: TransferOptions())
            #expect(strayResult.failed == 1 && strayResult.transferred == 0)
            #expect(try await system.waitForDepth(stray, toBe: 1) == 1)
        }
    }

    @Test func moveKeepsTheFailureHeadersAndNeedsAnExistingTarget() async throws {
        try await DLQFixture.with { system in
            let messages = try await Self.fill(system)
            await #expect(throws: AdminError.self) {
                try await system.admin.move(to: system.prefix + "missing", options: TransferOptions())
            }
            #expect(try await system.depth(system.ordersDLQ) == 4)

            let parking = try await system.extraQueue("parking")
            let result = try await system.admin.move(
                to: parking, options: TransferOptions(filter: DeadLetterFilter(reasons: ["database-unavailable", "lock-timeout"])))
            #expect(result.transferred == 3 && result.skipped == 1 && result.failed == 0)
            #expect(result.summary == "moved 3, skipped 1, failed 0")
            #expect(try await system.waitForDepth(system.ordersDLQ, toBe: 1) == 1)
            let moved = try await system.drain(parking)
            #expect(Set(moved.compactMap(\.properties.messageID)) == ["a", "b", "c"])
            for copy in moved {
                let original = try #require(messages.first { $0.properties.messageID == copy.properties.messageID })
                var properties = copy.properties
                #expect(properties.headers.removeValue(forKey: "x-delivery-count") == .int64(0), "added by the quorum queue")
                #expect(properties == original.properties, "everything kept")
                #expect(copy.body == original.body)
            }
        }
    }
}
