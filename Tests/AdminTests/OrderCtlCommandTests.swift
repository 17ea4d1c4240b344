import AMQP
import Admin
import Foundation
import Synchronization
import OrderCore
import TestSupport
import Testing
import Topology

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

    @Test func aCommandGroupWithoutASubcommandIsBadUsage() throws {
        for arguments in [[], ["dlq"], ["topology"], ["db"], ["orders"]] as [[String]] {
            let run = try Command.orderctl(arguments)
            #expect(run.status == ExitStatus.usage, "orderctl \(arguments)")
            #expect(run.stderr.contains("USAGE: orderctl"), "orderctl \(arguments): the usage, on stderr: \(run.stderr)")
            #expect(run.stdout.isEmpty)
        }
        #expect(try Command.orderctl(["--help"]).status == 0, "asking for help is not bad usage")
        #expect(try Command.orderctl(["dlq", "--help"]).status == 0)
    }

    @Test func eachCommandsHelpListsOnlyTheOptionsItReads() throws {
        let cases: [(command: [String], has: [String], hasNot: [String])] = [
            (["orders", "show"], ["--database-url", "--output"], ["--amqp-url", "--vendor-database-urls"]),
            (["dlq", "list"], ["--amqp-url", "--output", "--queue-prefix"], ["--database-url", "--vendor-database-urls"]),
            // replay appends to the audit log in ordersdb.
            (["dlq", "replay"], ["--amqp-url", "--message-id", "--database-url"], ["--vendor-database-urls"]),
            (["dlq", "import"], ["--amqp-url", "--file"], ["--database-url", "--vendor-database-urls", "--queue-prefix"]),
            (["db", "migrate"], ["--database-url", "--vendor-database-urls", "--migrations-dir"], ["--amqp-url"]),
            (["topology", "declare"], ["--amqp-url", "--output"], ["--database-url", "--vendor-database-urls"]),
            (["topology", "export"], ["--file"], ["--amqp-url", "--database-url", "--vendor-database-urls", "--output"]),
        ]
        for (command, has, hasNot) in cases {
            let help = try Command.orderctl(command + ["--help"])
            #expect(help.status == 0, "\(command)")
            for option in has { #expect(help.stdout.contains(option), "orderctl \(command.joined(separator: " ")) --help lists \(option)") }
            for option in hasNot { #expect(!help.stdout.contains(option), "orderctl \(command.joined(separator: " ")) --help does not list \(option)") }
        }
    }

    @Test func withOutputJSONErrorsAreAJSONObjectOnStandardOutput() throws {
        func error(_ run: Command.Output) throws -> (message: String, exitCode: Int) {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], "\(run.stdout)")
            return (try #require(object["error"] as? String), try #require(object["exitCode"] as? Int))
        }
        let id = UUID()
        let missing = try Command.orderctl(["orders", "show", id.uuidString, "--output", "json"])
        #expect(missing.status == ExitStatus.failure)
        let missingError = try error(missing)
        #expect(missingError.message == "no order \(id.uuidString.lowercased()) in ordersdb")
        #expect(missingError.exitCode == Int(ExitStatus.failure))
        #expect(missing.stderr.hasPrefix("orderctl: no order"), "the line on stderr stays")

        let asTable = try Command.orderctl(["orders", "show", id.uuidString])
        #expect(asTable.status == ExitStatus.failure && asTable.stdout.isEmpty, "a table has no error object")

        let noDatabase = try Command.orderctl(
            ["orders", "show", id.uuidString, "--database-url", "postgres://orders:orders@127.0.0.1:1/ordersdb", "--output", "json"])
        #expect(noDatabase.status == ExitStatus.databaseUnavailable)
        #expect(try error(noDatabase).exitCode == Int(ExitStatus.databaseUnavailable))

        let noBroker = try Command.orderctl(["dlq", "list", "--amqp-url", "amqp://guest:guest@127.0.0.1:1/%2F", "--output", "json"])
        #expect(noBroker.status == ExitStatus.brokerUnavailable)
        #expect(try error(noBroker).exitCode == Int(ExitStatus.brokerUnavailable))

        let badUsage = try Command.orderctl(["orders", "show", "not-a-uuid", "--output", "json"])
        #expect(badUsage.status == ExitStatus.usage)
        let usageError = try error(badUsage)
        #expect(usageError.exitCode == Int(ExitStatus.usage) && usageError.message.contains("not-a-uuid"))
    }

    @Test func replayMoveAndExportWhoseFiltersMatchNothingExitOneAndSaySo() async throws {
        try await DLQFixture.with { system in
            let dlq = system.ordersDLQ
            try await system.publish([system.deadLettered((Array("{}".utf8), AMQPProperties(messageID: "there")))], to: dlq)
            #expect(try await system.waitForDepth(dlq, toBe: 1) == 1)
            let base = ["--queue-prefix", system.prefix, "--queue", dlq]

            let replay = try Command.orderctl(["dlq", "replay", "--message-id", "NOPE"] + base)
            #expect(replay.status == ExitStatus.failure, "\(replay.stderr)")
            #expect(replay.stderr == "orderctl: no message matched the filters (message id NOPE): nothing was replayed\n")
            #expect(replay.stdout.split(separator: "\n").last == "replayed 0, skipped 1, failed 0")
            #expect(try await system.waitForDepth(dlq, toBe: 1) == 1)

            let dryRun = try Command.orderctl(["dlq", "replay", "--dry-run", "--reason", "no-such-reason"] + base)
            #expect(dryRun.status == ExitStatus.failure && dryRun.stderr.contains("no message matched the filters (reason no-such-reason)"))
            #expect(try await system.waitForDepth(dlq, toBe: 1) == 1)

            let target = try await system.extraQueue("moved")
            let move = try Command.orderctl(["dlq", "move", "--to", target, "--message-id", "NOPE", "--output", "json"] + base)
            #expect(move.status == ExitStatus.failure)
            let moved = try #require(try JSONSerialization.jsonObject(with: Data(move.stdout.utf8)) as? [String: Any], "one JSON document: \(move.stdout)")
            #expect((moved["unmatchedFilter"] as? String)?.contains("message id NOPE") == true)
            #expect(moved["moved"] as? Int == 0)
            #expect(try await system.waitForDepth(dlq, toBe: 1) == 1)

            let file = FileManager.default.temporaryDirectory.appendingPathComponent("unmatched-\(UUID().uuidString).jsonl").path
            defer { try? FileManager.default.removeItem(atPath: file) }
            let export = try Command.orderctl(["dlq", "export", "--file", file, "--remove", "--older-than", "1d"] + base)
            #expect(export.status == ExitStatus.failure)
            #expect(export.stderr.contains("no message matched the filters (older than 1d 0h): nothing was exported"), "\(export.stderr)")
            #expect(try await system.waitForDepth(dlq, toBe: 1) == 1, "nothing removed")

            // No filter on an empty queue is nothing to do, not a refusal; a filter that matches is a success.
            let emptyQueue = try Command.orderctl(["dlq", "replay", "--queue-prefix", system.prefix, "--queue", system.topology.vendorSync.deadLetter])
            #expect(emptyQueue.status == 0, "\(emptyQueue.stderr)")
            let matching = try Command.orderctl(["dlq", "replay", "--message-id", "there"] + base)
            #expect(matching.status == 0, "\(matching.stderr)")
            #expect(matching.stdout.split(separator: "\n").last == "replayed 1, skipped 0, failed 0")
        }
    }

    @Test func topologyDeclareAndVerifyWorkOnAPrefixedTopologyAndShowDepths() async throws {
        let topology = Topology(prefix: TestEnvironment.uniqueName("ctl") + ".")
        let connection = try await AMQPConnection.connect(url: TestEnvironment.amqpURL, connectionName: "orderctl-tests")
        func deleteAll() async {
            await topology.delete(on: connection)
            await connection.close()
        }
        do {
            let declare = try Command.orderctl(["topology", "declare", "--queue-prefix", topology.prefix])
            #expect(declare.status == 0, "\(declare.stderr)")
            let dlq = topology.orders.deadLetter
            let publisher = try await connection.openConfirmChannel()
            try await publisher.publish(Array("{}".utf8), routingKey: dlq, mandatory: true, properties: AMQPProperties(deliveryMode: .persistent))
            #expect(try await connection.waitForDepth(of: dlq) { $0 == 1 } == 1)

            let verify = try Command.orderctl(["topology", "verify", "--queue-prefix", topology.prefix, "--output", "json"])
            #expect(verify.status == 0, "\(verify.stderr)")
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(verify.stdout.utf8)) as? [[String: String]])
            #expect(rows.map { $0["queue"] } == topology.exchanges.map(\.name) + topology.queues.map(\.name) + topology.bindings.map(\.queue))
            #expect(rows.allSatisfy { $0["status"] == "ok" })
            #expect(rows.first { $0["queue"] == dlq }?["ready"] == "1")
            #expect(rows.first { $0["queue"] == topology.orders.main }?["ready"] == "0")
        } catch {
            await deleteAll()
            throw error
        }
        await deleteAll()
    }

    @Test func topologyExportPrintsTheDefinitionsOrWritesTheFileTheREADMENames() throws {
        let committed = try String(contentsOf: TestEnvironment.repositoryRoot.appendingPathComponent("rabbitmq/definitions.json"), encoding: .utf8)
        let printed = try Command.orderctl(["topology", "export"])
        #expect(printed.status == 0)
        #expect(printed.stdout == committed)

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("definitions-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let written = try Command.orderctl(["topology", "export", "--file", file])
        #expect(written.status == 0 && written.stdout.isEmpty, "\(written.stderr)")
        #expect(try String(contentsOfFile: file, encoding: .utf8) == committed)

        let readme = try String(contentsOf: TestEnvironment.repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(readme.contains("orderctl topology export --file rabbitmq/definitions.json"))
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

            // Its history: one transition, QUEUED → CONFIRMED by the system.
            #expect(view.history.map(\.sequence) == [1])
            #expect(view.history.first.map { ($0.from, $0.to, $0.cause, $0.actor) } ?? (.failed, .failed, "", .customer) == (.queued, .confirmed, "stock-allocated", .system))
            #expect(table.stdout.contains("history:") && table.stdout.contains("stock-allocated"))
            let history = try #require(object?["history"] as? [[String: Any]])
            #expect(history.count == 1)
            #expect(history.first?["from"] as? String == "QUEUED" && history.first?["to"] as? String == "CONFIRMED")
            #expect(history.first?["eventId"] as? String == view.history.first?.eventId.uuidString.lowercased())
        }
    }

    /// A channel's order shows the channel's reference; an API order has none.
    @Test func ordersShowPrintsTheChannelReference() async throws {
        try await DLQFixture.with { system in
            let product = try system.product("channel", stock: ["vendorA": 3])
            let shop = "\(TestEnvironment.uniqueName("shop")).myshopify.com"
            let reference = ChannelOrderReference(channel: "shopify", shop: shop, orderId: "450789469", orderName: "#1001")
            let channelOrder = OrderPlaced(
                orderId: UUID(), lines: [OrderLine(productId: product, quantity: 1)], idempotencyKey: reference.idempotencyKey, acceptedAt: Date(),
                channel: reference)
            let plainOrder = OrderPlaced(orderId: UUID(), lines: [OrderLine(productId: product, quantity: 1)], idempotencyKey: nil, acceptedAt: Date())
            try await system.publish([DLQFixture.orderMessage(channelOrder), DLQFixture.orderMessage(plainOrder)], to: system.topology.orders.main)
            try await system.withWorker { () async throws in
                let statuses = try await system.waitForOrders([channelOrder.orderId, plainOrder.orderId])
                #expect(statuses == [channelOrder.orderId: "CONFIRMED", plainOrder.orderId: "CONFIRMED"])
            }
            let table = try Command.orderctl(["orders", "show", channelOrder.orderId.uuidString])
            #expect(table.stdout.contains("shopify \(shop) order 450789469 (#1001)"), "\(table.stdout)")
            let json = try Command.orderctl(["orders", "show", channelOrder.orderId.uuidString, "--output", "json"])
            let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
            let channel = try #require(object?["channel"] as? [String: String], "\(json.stdout)")
            #expect(channel == ["name": "shopify", "shop": shop, "orderId": "450789469", "orderName": "#1001"])
            let plain = try Command.orderctl(["orders", "show", plainOrder.orderId.uuidString, "--output", "json"])
            let plainObject = try JSONSerialization.jsonObject(with: Data(plain.stdout.utf8)) as? [String: Any]
            #expect(plainObject?["status"] as? String == "CONFIRMED")
            #expect(plainObject?["channel"] == nil)
        }
    }

    /// `events tail` prints what is published to the topology's order_events after
    /// it bound its queue, one JSON line each, only for its routing keys, and
    /// stops after --count.
    @Test func eventsTailPrintsEachEventAsAJSONLineUntilTheCount() async throws {
        try await DLQFixture.with { system in
            let arguments = ["events", "tail", "--queue-prefix", system.topology.prefix, "--routing-key", "order.*", "--count", "2"]
            let finished = Flag()
            async let ran = onThreads(1) { _ in
                defer { finished.set() }
                return Result { try Command.orderctl(arguments) }
            }
            // The exchange drops what is published before the binding exists: publish
            // an event that is bound and one that is not, until orderctl had its two.
            let channel = try await system.broker.openConfirmChannel()
            for attempt in 0..<200 where !finished.isSet {
                try await channel.publish(
                    Array(#"{"sequence":0}"#.utf8), exchange: system.topology.orderEvents, routingKey: "inventory.low_stock",
                    properties: AMQPProperties(messageID: "skip-\(attempt)"))
                try await channel.publish(
                    Array(#"{"sequence":\#(attempt)}"#.utf8), exchange: system.topology.orderEvents, routingKey: "order.confirmed",
                    properties: AMQPProperties(correlationID: "order-1", messageID: "event-\(attempt)", type: "order.confirmed.v1"))
                try await Task.sleep(for: .milliseconds(100))
            }
            let output = try await ran[0].get()
            #expect(output.status == 0, "\(output.stderr)")
            let lines = output.stdout.split(separator: "\n")
            #expect(lines.count == 2, "\(output.stdout)")
            for line in lines {
                let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                #expect(object["routingKey"] as? String == "order.confirmed")
                #expect(object["correlationId"] as? String == "order-1" && object["type"] as? String == "order.confirmed.v1")
                #expect((object["messageId"] as? String)?.hasPrefix("event-") == true)
                #expect((object["event"] as? [String: Any])?["sequence"] is Int)
            }
        }
    }
}

/// Set once by one thread, read by another.
final class Flag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}
