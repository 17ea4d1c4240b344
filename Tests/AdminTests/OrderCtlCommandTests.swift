import AMQP
import Admin
import Foundation
import OrderCore
import TestSupport
import Testing

/// The real `orderctl` binary, with standard input from /dev/null (not a terminal).
@Suite(.timeLimit(.minutes(3))) struct OrderCtlCommandTests {
    @Test func purgeRefusesOffATerminalWithoutYesAndChecksTheExpectedCount() async throws {
        try await DLQFixture.with { system in
            let dlq = system.ordersDLQ
            try await system.publish((0..<3).map { system.deadLettered(([UInt8]("{\"n\":\($0)}".utf8), AMQPProperties(messageID: "p\($0)"))) }, to: dlq)
            let base = ["dlq", "purge", "--queue-prefix", system.prefix, "--queue", dlq]

            let noYes = try Command.orderctl(base)
            #expect(noYes.status == 1, "\(noYes.stderr)")
            #expect(noYes.stderr.contains("refusing to purge 3 messages in \(dlq) (3) without --yes: standard input is not a terminal"), "\(noYes.stderr)")
            #expect(noYes.stderr.split(separator: "\n").count == 1, "one line")
            #expect(try await system.depth(dlq) == 3)

            let wrongCount = try Command.orderctl(base + ["--yes", "--expect-count", "2"])
            #expect(wrongCount.status == 1)
            #expect(wrongCount.stderr.contains("not 2 as --expect-count says; nothing was purged"), "\(wrongCount.stderr)")
            #expect(try await system.depth(dlq) == 3)

            let rightCountNoYes = try Command.orderctl(base + ["--expect-count", "3"])
            #expect(rightCountNoYes.status == 1, "the count alone is not a yes")
            #expect(try await system.depth(dlq) == 3)

            let purge = try Command.orderctl(base + ["--yes", "--expect-count", "3", "--output", "json"])
            #expect(purge.status == 0, "\(purge.stderr)")
            let json = try JSONSerialization.jsonObject(with: Data(purge.stdout.utf8)) as? [String: Any]
            #expect(json?["total"] as? Int == 3)
            #expect(try await system.depth(dlq) == 0)
            #expect(try await Management.waitForMessages(in: dlq, toBe: 0) == 0)

            let empty = try Command.orderctl(base)
            #expect(empty.status == 0, "nothing to purge is not a refusal: \(empty.stderr)")
        }
    }

    @Test func listAndStatsThroughTheBinaryAgreeWithTheManagementAPI() async throws {
        try await DLQFixture.with { system in
            let messages = (0..<7).map { index in
                system.deadLettered(([UInt8]("{\"n\":\(index)}".utf8), AMQPProperties(messageID: "l\(index)")), reason: index < 5 ? "deadlock" : "lock-timeout")
            }
            try await system.publish(messages, to: system.ordersDLQ)
            let list = try Command.orderctl(["dlq", "list", "--queue-prefix", system.prefix, "--output", "json"])
            #expect(list.status == 0, "\(list.stderr)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [String: Any])
            let queues = try #require(json["queues"] as? [[String: Any]])
            #expect(queues.compactMap { $0["queue"] as? String } == system.topology.deadLetterQueues)
            for queue in queues {
                let name = try #require(queue["queue"] as? String)
                let depth = try #require(queue["depth"] as? Int)
                #expect(try await Management.waitForMessages(in: name, toBe: depth) == depth, "\(name): orderctl and the broker agree")
            }
            #expect(queues.first?["depth"] as? Int == 7)
            #expect(queues.first?["reasons"] as? [String: Int] == ["deadlock": 5, "lock-timeout": 2])

            // (Each read puts the messages back; the quorum queue counts them again a moment later.)
            #expect(try await system.waitForDepth(system.ordersDLQ, toBe: 7) == 7)
            let stats = try Command.orderctl(["dlq", "stats", "--queue-prefix", system.prefix, "--group-by", "reason"])
            #expect(stats.status == 0)
            #expect(stats.stdout.contains("deadlock") && stats.stdout.contains("total"), "\(stats.stdout)")

            // QUEUE_PREFIX works as the daemons' variable does.
            let viaEnvironment = try Command.orderctl(["dlq", "list"], environment: ["QUEUE_PREFIX": system.prefix])
            #expect(viaEnvironment.stdout.contains(system.ordersDLQ))
            #expect(try await system.waitForDepth(system.ordersDLQ, toBe: 7) == 7)

            let replay = try Command.orderctl(["dlq", "replay", "--queue-prefix", system.prefix, "--reason", "lock-timeout"])
            #expect(replay.status == 0, "\(replay.stderr)")
            #expect(replay.stdout.split(separator: "\n").last == "replayed 2, skipped 5, failed 0")
            #expect(replay.stderr.isEmpty, "no progress bar off a terminal")
            #expect(try await Management.waitForMessages(in: system.ordersDLQ, toBe: 5) == 5)
            #expect(try await Management.waitForMessages(in: system.topology.orders.main, toBe: 2) == 2)
        }
    }

    @Test func unreachableServicesAndBadUsageGetOneLineAndTheirExitCode() throws {
        let noBroker = try Command.orderctl(["dlq", "list", "--amqp-url", "amqp://guest:guest@127.0.0.1:1/%2F"])
        #expect(noBroker.status == ExitStatus.brokerUnavailable)
        #expect(noBroker.stderr.hasPrefix("orderctl: cannot reach the broker"))
        #expect(noBroker.stderr.split(separator: "\n").count == 1)
        #expect(!noBroker.stderr.contains("guest:guest"), "the password is masked")

        let noDatabase = try Command.orderctl(["orders", "show", UUID().uuidString, "--database-url", "postgres://orders:orders@127.0.0.1:1/ordersdb"])
        #expect(noDatabase.status == ExitStatus.databaseUnavailable)
        #expect(noDatabase.stderr.hasPrefix("orderctl: cannot reach database ordersdb"))
        #expect(noDatabase.stderr.split(separator: "\n").count == 1)

        let missingQueue = try Command.orderctl(["dlq", "peek", "--queue", "no-such-queue-\(UUID().uuidString)"])
        #expect(missingQueue.status == ExitStatus.failure)
        #expect(missingQueue.stderr.contains("does not exist"))

        #expect(try Command.orderctl(["dlq", "replay", "--older-than", "soon"]).status == ExitStatus.usage)
        #expect(try Command.orderctl(["orders", "show", "not-a-uuid"]).status == ExitStatus.usage)
        #expect(try Command.orderctl(["dlq", "stats", "--group-by", "colour"]).status == ExitStatus.usage)
        #expect(try Command.orderctl(["orders", "show", UUID().uuidString]).status == ExitStatus.failure, "no such order")
    }

    @Test func ordersShowPrintsWhatTheWorkerRecorded() async throws {
        try await DLQFixture.with { system in
            let product = try system.product("show", stock: ["vendorA": 2, "vendorB": 5])
            let key = TestEnvironment.uniqueName("key")  // idempotency keys are unique across ordersdb
            let order = OrderPlaced(orderId: UUID(), lines: [OrderLine(productId: product, quantity: 4)], idempotencyKey: key, acceptedAt: Date())
            try await system.publish([DLQFixture.orderMessage(order)], to: system.topology.orders.main)
            try await system.withWorker { () async throws in
                #expect(try await system.waitForOrders([order.orderId])[order.orderId] == "CONFIRMED")
            }
            let view = try OrderAdmin(databaseURL: TestEnvironment.databaseURL).show(order.orderId)
            #expect(view.order.status.rawValue == "CONFIRMED")
            #expect(view.order.allocations.reduce(0) { $0 + $1.quantity } == 4)

            let table = try Command.orderctl(["orders", "show", order.orderId.uuidString])
            #expect(table.status == 0, "\(table.stderr)")
            #expect(table.stdout.contains("CONFIRMED") && table.stdout.contains(product) && table.stdout.contains(key))
            let json = try Command.orderctl(["orders", "show", order.orderId.uuidString, "--output", "json"])
            let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
            #expect(object?["status"] as? String == "CONFIRMED")
            #expect((object?["lines"] as? [Any])?.count == 1)
        }
    }
}
