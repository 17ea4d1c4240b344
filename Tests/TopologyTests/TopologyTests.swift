import AMQP
import Foundation
import TestSupport
import Testing
@testable import Topology

@Suite struct TopologyShapeTests {
    @Test func seventeenQueuesWithTheDesignedArguments() {
        let topology = Topology.standard
        #expect(topology.queues.map(\.name) == [
            "orders_queue", "orders_retry_queue", "orders_dlq", "vendor_sync", "vendor_sync_retry", "vendor_sync_dlq",
            "payments", "payments_retry", "payments_dlq", "payment_outcomes", "payment_outcomes_retry", "payment_outcomes_dlq",
            "fulfilment", "fulfilment_retry_1", "fulfilment_retry_2", "fulfilment_retry_3", "fulfilment_dlq",
        ])
        for queue in topology.queues { #expect(queue.arguments["x-queue-type"] == "quorum", "\(queue.name)") }
        let retry = topology.queues[1]
        #expect(retry.arguments["x-message-ttl"] == .int64(5000))
        #expect(retry.arguments["x-dead-letter-exchange"] == "")
        #expect(retry.arguments["x-dead-letter-routing-key"] == "orders_queue")
        #expect(retry.arguments["x-dead-letter-strategy"] == "at-least-once")
        #expect(retry.arguments["x-overflow"] == "reject-publish")
        let main = topology.queues[3]
        #expect(main.arguments["x-delivery-limit"] != nil)
        #expect(main.arguments["x-dead-letter-routing-key"] == "vendor_sync_dlq")
        let dlq = topology.queues[5]
        #expect(
            dlq.arguments == ["x-queue-type": "quorum", "x-delivery-limit": .int64(Int64(Int32.max))],
            "DLQs have no TTL or length, and a delivery limit no inspection reaches")
    }

    /// A cluster's topology names its replicas on every queue and is otherwise the
    /// same; the single broker's names none (the queues it has were declared so).
    @Test func replicaCountOnEveryQueueOnlyWhenNamed() {
        #expect(Topology.standard.queues.allSatisfy { $0.arguments["x-quorum-initial-group-size"] == nil })
        let cluster = Topology(quorumInitialGroupSize: 3)
        #expect(cluster.queues.map(\.name) == Topology.standard.queues.map(\.name))
        for (queue, single) in zip(cluster.queues, Topology.standard.queues) {
            #expect(queue.arguments["x-quorum-initial-group-size"] == .int64(3), "\(queue.name)")
            var rest = queue.arguments
            rest["x-quorum-initial-group-size"] = nil
            #expect(rest == single.arguments, "\(queue.name)")
        }
    }

    /// The fulfilment set's retry tiers: one queue per delay (5 s, 30 s, 5 min by
    /// default), each dead-lettering back to `fulfilment`; every other set keeps one.
    @Test func fulfilmentRetryTiersEachHaveTheirDelay() {
        let topology = Topology(prefix: "t.", fulfilmentRetryDelaysMilliseconds: [1_000, 3_000, 10_000, 60_000])
        let tiers = topology.queues.filter { $0.name.hasPrefix("t.fulfilment_retry_") }
        #expect(tiers.map(\.name) == ["t.fulfilment_retry_1", "t.fulfilment_retry_2", "t.fulfilment_retry_3", "t.fulfilment_retry_4"])
        #expect(tiers.map { $0.arguments["x-message-ttl"] } == [.int64(1_000), .int64(3_000), .int64(10_000), .int64(60_000)])
        for tier in tiers {
            #expect(tier.role == .retry)
            #expect(tier.arguments["x-dead-letter-routing-key"] == "t.fulfilment")
            #expect(tier.arguments["x-dead-letter-exchange"] == "")
            #expect(tier.arguments["x-dead-letter-strategy"] == "at-least-once")
            #expect(tier.arguments["x-overflow"] == "reject-publish")
        }
        let main = topology.queues.first { $0.name == "t.fulfilment" }
        #expect(main?.arguments["x-dead-letter-routing-key"] == "t.fulfilment_dlq")
        #expect(Topology.standard.fulfilment.retryTiers.map(\.delayMilliseconds) == [5_000, 30_000, 300_000])
        for set in topology.queueSets where set != topology.fulfilment {
            #expect(set.retryTiers.count == 1, "\(set.main)")
            #expect(set.retryTiers.first?.delayMilliseconds == topology.retryDelayMilliseconds)
        }
        #expect(topology.queueSet(containing: "t.fulfilment_retry_3") == topology.fulfilment)
    }

    /// Retry n waits in tier min(n, tiers); the last tier repeats; a set with one
    /// retry queue sends every retry there.
    @Test func retryAttemptsGoToTheirTier() {
        let fulfilment = Topology(prefix: "", fulfilmentRetryDelaysMilliseconds: [5_000, 30_000, 300_000]).fulfilment
        #expect((1...6).map { fulfilment.retryQueue(attempt: $0) } == [
            "fulfilment_retry_1", "fulfilment_retry_2", "fulfilment_retry_3", "fulfilment_retry_3", "fulfilment_retry_3", "fulfilment_retry_3",
        ])
        #expect(fulfilment.retryQueue(attempt: 0) == "fulfilment_retry_1", "a postponed message that never retried waits in the first tier")
        let orders = Topology.standard.orders
        #expect((0...5).map { orders.retryQueue(attempt: $0) } == Array(repeating: "orders_retry_queue", count: 6))
    }

    /// `fulfilment` subscribes to `order.confirmed`; the binding is exported with the queues.
    @Test func theFulfilmentQueueIsBoundToConfirmedOrderEvents() throws {
        let topology = Topology(prefix: "t.")
        #expect(topology.bindings == [BindingDefinition(queue: "t.fulfilment", exchange: "t.order_events", routingKey: "order.confirmed")])
        let json = try JSONSerialization.jsonObject(with: Data(Topology.standard.definitionsJSON().utf8)) as! [String: Any]
        let bindings = json["bindings"] as! [[String: Any]]
        #expect(bindings.count == 1)
        #expect(bindings.first?["source"] as? String == "order_events")
        #expect(bindings.first?["destination"] as? String == "fulfilment")
        #expect(bindings.first?["destination_type"] as? String == "queue")
        #expect(bindings.first?["routing_key"] as? String == "order.confirmed")
    }

    /// A binding the broker does not report is a mismatch naming the queue, exchange and key.
    @Test func aMissingBindingIsAMismatch() {
        let topology = Topology(prefix: "t.")
        #expect(topology.missingBindings(present: Set(topology.bindings)).isEmpty)
        let missing = topology.missingBindings(present: [])
        #expect(missing.map(\.name) == ["t.fulfilment"])
        #expect(missing.first?.problem == .bindingMissing(exchange: "t.order_events", routingKey: "order.confirmed"))
        #expect(missing.first?.description == "queue 't.fulfilment' is not bound to exchange 't.order_events' with 'order.confirmed'")
        let otherKey = BindingDefinition(queue: "t.fulfilment", exchange: "t.order_events", routingKey: "order.#")
        #expect(topology.missingBindings(present: [otherKey]).count == 1)
    }

    /// -1 (RabbitMQ 4.x's "no limit") drops a message at its first requeue on 3.10, and no
    /// argument at all means 20 on 4.x: the DLQs need a positive limit no reading reaches.
    @Test func deadLetterQueuesHaveADeliveryLimitThatMeansNoneOnEveryBroker() {
        for queue in Topology.standard.queues where queue.role == .deadLetter {
            let limit = queue.arguments["x-delivery-limit"]?.intValue
            #expect(limit.map { $0 >= 1_000_000 } == true, "\(queue.name): \(String(describing: limit))")
        }
    }

    @Test func mismatchNamesTheArgument() {
        let error = AMQPError(
            kind: .channelClosed, replyCode: .preconditionFailed,
            message: "PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue 'q' in vhost '/': received the value '5000' of type 'signedint' but current is the value '1000' of type 'signedint'")
        let mismatch = Topology.mismatch(queue: "q", error: error)
        #expect(mismatch.problem == .argumentDiffers(argument: "x-message-ttl"))
        #expect(mismatch.description.contains("'q'"))
    }

    /// rabbitmq/definitions.json is generated from this module; regenerate with
    /// `swift run orderctl topology export --file rabbitmq/definitions.json`.
    /// What compose.yaml's cluster nodes load: the same topology, three replicas of each queue.
    @Test func committedClusterDefinitionsFileMatchesTheCode() throws {
        let url = TestEnvironment.repositoryRoot.appendingPathComponent("rabbitmq/cluster-definitions.json")
        let committed = try String(contentsOf: url, encoding: .utf8)
        #expect(committed == Topology(quorumInitialGroupSize: 3).definitionsJSON(),
                "rabbitmq/cluster-definitions.json is stale: run `swift run orderctl topology export --quorum-initial-group-size 3 --file rabbitmq/cluster-definitions.json`")
    }

    @Test func committedDefinitionsFileMatchesTheCode() throws {
        let url = TestEnvironment.repositoryRoot.appendingPathComponent("rabbitmq/definitions.json")
        let committed = try String(contentsOf: url, encoding: .utf8)
        #expect(committed == Topology.standard.definitionsJSON(),
                "rabbitmq/definitions.json is stale: run `swift run orderctl topology export --file rabbitmq/definitions.json`")
    }

    @Test func oneDurableTopicExchangeForEvents() throws {
        #expect(Topology(prefix: "t.").exchanges == [ExchangeDefinition(name: "t.order_events", type: "topic")])
        let json = try JSONSerialization.jsonObject(with: Data(Topology.standard.definitionsJSON().utf8)) as! [String: Any]
        let exchanges = json["exchanges"] as! [[String: Any]]
        #expect(exchanges.count == 1)
        #expect(exchanges.first?["name"] as? String == "order_events" && exchanges.first?["type"] as? String == "topic")
        #expect(exchanges.first?["durable"] as? Bool == true && exchanges.first?["auto_delete"] as? Bool == false)
    }

    @Test func definitionsCarryQueuesAndTheUsersPermissionsButNoUser() throws {
        let json = try JSONSerialization.jsonObject(with: Data(Topology.standard.definitionsJSON().utf8)) as! [String: Any]
        let queues = json["queues"] as! [[String: Any]]
        #expect(queues.count == 17)
        let retry = queues.first { $0["name"] as? String == "orders_retry_queue" }!
        let arguments = retry["arguments"] as! [String: Any]
        #expect(arguments["x-message-ttl"] as? Int == 5000)
        #expect(json["users"] == nil, "a user needs a password, and the file is committed")
        let permissions = json["permissions"] as! [[String: Any]]
        #expect(permissions.count == 1)
        #expect(permissions.first?["user"] as? String == Topology.brokerUser)
        let expected = Topology.standard.brokerPermissions
        #expect(permissions.first?["configure"] as? String == expected.configure)
        #expect(permissions.first?["write"] as? String == expected.write)
        #expect(permissions.first?["read"] as? String == expected.read)
    }

    /// The patterns match the topology's queues (and, for writing, the default
    /// exchange), each name whole, and nothing else: a prefix's dot is literal.
    @Test func brokerPermissionsMatchExactlyTheTopologysNames() throws {
        let topology = Topology(prefix: "t-1.")
        let permissions = topology.brokerPermissions
        // The queues, the events exchange, and queues the broker names for a subscriber.
        let names = topology.queues.map(\.name) + ["t-1.order_events", "amq.gen-JzTY20BRgKO-HjmUJj0wLg"]
        let others = [
            "t-1x" + "orders_queue", "orders_queue", "t-1.orders_queue_x", "x" + names[0], "amq.direct", "t-1.other", "",
            "order_events", "t-1.order_events_x", "amq.gen", "amq.topic",
        ]
        for (kind, pattern, allowed) in [("configure", permissions.configure, names), ("write", permissions.write, ["amq.default"] + names),
                                          ("read", permissions.read, names)] {
            let regex = try Regex(pattern)
            for name in allowed { #expect(name.wholeMatch(of: regex) != nil, "\(kind) refuses \(name)") }
            for name in others + (kind == "write" ? [] : ["amq.default"]) {
                #expect(name.firstMatch(of: regex) == nil, "\(kind) allows \(name): \(pattern)")
            }
        }
    }
}

@Suite struct TopologyBrokerTests {
    private func withTopology(_ body: (Topology, AMQPConnection) async throws -> Void) async throws {
        let topology = Topology(prefix: TestEnvironment.uniqueName("topo") + ".")
        let connection = try await AMQPConnection.connect(url: TestEnvironment.amqpURL, connectionName: "topology-tests")
        do {
            try await body(topology, connection)
        } catch {
            await Self.deleteAll(topology, connection)
            throw error
        }
        await Self.deleteAll(topology, connection)
    }

    private static func deleteAll(_ topology: Topology, _ connection: AMQPConnection) async {
        await topology.delete(on: connection)
        await connection.close()
    }

    /// Declaring binds `fulfilment` to the events exchange: an `order.confirmed`
    /// event lands in it, the order's other events do not.
    @Test func declareBindsTheFulfilmentQueueToConfirmedEvents() async throws {
        try await withTopology { topology, connection in
            try await topology.declare(on: connection)
            let publisher = try await connection.openConfirmChannel()
            for key in ["order.confirmed", "order.cancelled", "order.fulfilling"] {
                try await publisher.publish(Array(key.utf8), exchange: topology.orderEvents, routingKey: key, properties: AMQPProperties(deliveryMode: .persistent))
            }
            await publisher.close()
            let arrived = try await connection.waitForDepth(of: topology.fulfilment.main) { $0 >= 1 }
            try await Task.sleep(for: .milliseconds(300))
            #expect(arrived == 1)
            let delivered = try await connection.drain(topology.fulfilment.main)
            #expect(delivered.map { String(decoding: $0.body, as: UTF8.self) } == ["order.confirmed"])
        }
    }

    /// A test's topology goes whole: its queues (with what they hold) and its
    /// exchange, and a second delete finds nothing left to fail on.
    @Test func deleteRemovesEveryQueueAndExchange() async throws {
        try await withTopology { topology, connection in
            try await topology.declare(on: connection)
            let publisher = try await connection.openConfirmChannel()
            try await publisher.publish(Array("{}".utf8), routingKey: topology.orders.main, mandatory: true, properties: AMQPProperties(deliveryMode: .persistent))
            await publisher.close()
            await topology.delete(on: connection)
            await topology.delete(on: connection)
            let left = try await topology.verify(on: connection)
            let missingQueues = left.filter { if case .missing = $0.problem { true } else { false } }.map(\.name)
            let missingExchanges = left.filter { if case .exchangeMissing = $0.problem { true } else { false } }.map(\.name)
            #expect(Set(missingQueues) == Set(topology.queues.map(\.name)))
            #expect(missingExchanges == topology.exchanges.map(\.name))
            #expect(left.count == missingQueues.count + missingExchanges.count, "\(left)")
        }
    }

    @Test func declareTwiceIsNotAnErrorAndVerifiesClean() async throws {
        try await withTopology { topology, connection in
            try await topology.declare(on: connection)
            try await topology.declare(on: connection)
            #expect(try await topology.verify(on: connection) == [])
        }
    }

    /// An events exchange that is missing, or of another type, is named by
    /// verify; declare refuses the second rather than paper over it.
    @Test func verifyNamesAMissingExchangeAndOneOfAnotherType() async throws {
        try await withTopology { topology, connection in
            let channel = try await connection.openChannel()
            for queue in topology.queues { try await channel.declareQueue(queue.name, arguments: queue.arguments) }
            let mismatches = try await topology.verify(on: connection)
            #expect(mismatches.map(\.problem) == [.exchangeMissing] && mismatches.map(\.name) == [topology.orderEvents])

            try await channel.declareExchange(topology.orderEvents, type: "direct", durable: true)
            let differing = try await topology.verify(on: connection)
            #expect(differing.map(\.problem) == [.exchangeDiffers] && differing.first?.description.contains(topology.orderEvents) == true)
            await #expect(throws: TopologyError.self) { try await topology.declare(on: connection) }
        }
    }

    @Test func verifyNamesAQueueDeclaredByHandWithAnotherTTL() async throws {
        try await withTopology { topology, connection in
            try await topology.declare(on: connection)
            let channel = try await connection.openChannel()
            let retry = topology.orders.retry
            try await channel.deleteQueue(retry)
            var arguments = topology.queues.first { $0.name == retry }!.arguments
            arguments["x-message-ttl"] = .int64(1000)
            try await channel.declareQueue(retry, arguments: arguments)
            try await channel.deleteQueue(topology.vendorSync.deadLetter)

            let mismatches = try await topology.verify(on: connection)
            #expect(mismatches.count == 2)
            #expect(mismatches.contains { $0.name == retry && $0.problem == .argumentDiffers(argument: "x-message-ttl") })
            #expect(mismatches.contains { $0.name == topology.vendorSync.deadLetter && $0.problem == .missing })
            // verify creates nothing.
            let check = try await connection.openChannel()
            await #expect(throws: AMQPError.self) { try await check.declareQueue(topology.vendorSync.deadLetter, passive: true) }

            // declare refuses to paper over the difference, and says which queue and argument.
            let error = await #expect(throws: TopologyError.self) { try await topology.declare(on: connection) }
            #expect(error.map { "\($0)" }?.contains("x-message-ttl") == true)
        }
    }

    /// Why the single broker's topology names no replica count: the broker compares
    /// `x-quorum-initial-group-size` on every declare, so queues that exist without it
    /// refuse a topology with it, and a cluster's queues (declared with it) refuse
    /// one without. Each side verifies clean only against its own queues.
    @Test func theReplicaCountIsPartOfAQueuesIdentity() async throws {
        try await withTopology { topology, connection in
            try await topology.declare(on: connection)
            var replicated = topology
            replicated.quorumInitialGroupSize = 1
            let mismatches = try await replicated.verify(on: connection)
            #expect(mismatches.count == topology.queues.count, "\(mismatches)")
            #expect(mismatches.allSatisfy { $0.problem == .argumentDiffers(argument: "x-quorum-initial-group-size") }, "\(mismatches)")
            await #expect(throws: TopologyError.self) { try await replicated.declare(on: connection) }
            #expect(try await topology.verify(on: connection) == [])
        }
    }

    /// A DLQ declared by an older topology (no delivery limit): declare names it and leaves it;
    /// asked to, it recreates it while empty, and never while it holds a message.
    @Test func declareRecreatesAnEmptyDeadLetterQueueOnlyWhenAskedAndNeverOneWithMessages() async throws {
        try await withTopology { topology, connection in
            let channel = try await connection.openChannel()
            let dlq = topology.orders.deadLetter
            try await channel.declareQueue(dlq, arguments: ["x-queue-type": "quorum"])

            let refused = await #expect(throws: TopologyError.self) { try await topology.declare(on: connection) }
            guard case .deadLetterQueueMismatch(let mismatch, messages: 0, consumers: 0)? = refused else {
                Issue.record("\(String(describing: refused))")
                return
            }
            #expect(mismatch.problem == .argumentDiffers(argument: "x-delivery-limit"))

            let recreated = try await topology.declare(on: connection, recreateEmptyDeadLetterQueues: true)
            #expect(recreated == [dlq])
            #expect(try await topology.verify(on: connection) == [])
            #expect(try await topology.declare(on: connection, recreateEmptyDeadLetterQueues: true) == [], "nothing left to recreate")

            // The same old DLQ holding a message is left alone, message and all.
            let vendorDLQ = topology.vendorSync.deadLetter
            let setup = try await connection.openChannel()
            try await setup.deleteQueue(vendorDLQ)
            try await setup.declareQueue(vendorDLQ, arguments: ["x-queue-type": "quorum"])
            let publisher = try await connection.openConfirmChannel()
            try await publisher.publish(Array("keep me".utf8), routingKey: vendorDLQ, mandatory: true, properties: AMQPProperties(deliveryMode: .persistent))
            _ = try await connection.waitForDepth(of: vendorDLQ, timeout: .seconds(10)) { $0 == 1 }
            let kept = await #expect(throws: TopologyError.self) {
                try await topology.declare(on: connection, recreateEmptyDeadLetterQueues: true)
            }
            guard case .deadLetterQueueMismatch(_, messages: 1, consumers: _)? = kept else {
                Issue.record("\(String(describing: kept))")
                return
            }
            #expect(try await connection.depth(of: vendorDLQ) == 1)
        }
    }

    /// The compose broker's user has only `brokerPermissions`: with them (on a
    /// prefixed topology here) a process can declare the topology, publish through
    /// the default exchange, take messages and purge, and nothing outside it.
    @Test func theBrokerUsersPermissionsAreEnoughAndNoMore() async throws {
        try await withTopology { topology, _ in
            let user = TestEnvironment.uniqueName("perm")
            try Self.management("PUT", "users/\(user)", ["password": user, "tags": ""])
            defer { try? Self.management("DELETE", "users/\(user)") }
            let permissions = topology.brokerPermissions
            try Self.management("PUT", "permissions/%2F/\(user)",
                                ["configure": permissions.configure, "write": permissions.write, "read": permissions.read])
            var url = try #require(URLComponents(string: TestEnvironment.amqpURL))
            url.user = user
            url.password = user
            let connection = try await AMQPConnection.connect(url: try #require(url.string), connectionName: "topology-permission-tests")
            do {
                try await topology.declare(on: connection)
                #expect(try await topology.verify(on: connection) == [])
                let publisher = try await connection.openConfirmChannel()
                try await publisher.publish(Array("allowed".utf8), routingKey: topology.orders.main, mandatory: true)
                let channel = try await connection.openChannel()
                var delivered: AMQPDelivery?
                for _ in 0..<200 where delivered == nil {
                    delivered = try await channel.get(queue: topology.orders.main, noAck: true)
                    if delivered == nil { try await Task.sleep(for: .milliseconds(25)) }
                }
                #expect(delivered?.body == Array("allowed".utf8))
                try await channel.purgeQueue(topology.orders.deadLetter)

                // A subscriber's own queue (named by the broker) bound to the events exchange gets what is published there.
                let subscriber = try await connection.openChannel()
                let queue = try await subscriber.declareQueue("", durable: false, exclusive: true, autoDelete: true).name
                try await subscriber.bindQueue(queue, exchange: topology.orderEvents, routingKey: "order.#")
                try await publisher.publish(Array("event".utf8), exchange: topology.orderEvents, routingKey: "order.confirmed")
                var event: AMQPDelivery?
                for _ in 0..<200 where event == nil {
                    event = try await subscriber.get(queue: queue, noAck: true)
                    if event == nil { try await Task.sleep(for: .milliseconds(25)) }
                }
                #expect(event?.body == Array("event".utf8))

                let outside = try await connection.openChannel()
                let refused = await #expect(throws: AMQPError.self) {
                    try await outside.declareQueue(topology.prefix + "not_in_the_topology", durable: false, autoDelete: true)
                }
                #expect(refused?.replyCode == .accessRefused, "\(String(describing: refused))")
            } catch {
                await connection.close()
                throw error
            }
            await connection.close()
        }
    }

    /// A call to the management API (`RABBITMQ_MANAGEMENT_URL`) that must succeed.
    private static func management(_ method: String, _ path: String, _ body: [String: String]? = nil) throws {
        let base = try #require(URLComponents(string: TestEnvironment.managementURL))
        let user = try #require(base.user)
        let password = try #require(base.password)
        var arguments = ["-s", "-f", "-X", method, "-u", "\(user):\(password)", "-H", "content-type: application/json"]
        if let body {
            arguments += ["-d", String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)]
        }
        let url = "\(base.scheme ?? "http")://\(base.host ?? "127.0.0.1"):\(base.port ?? 15672)/api/\(path)"
        let output = try Command.run("/usr/bin/curl", arguments + [url])
        #expect(output.status == 0, "\(method) \(path): curl exit \(output.status) \(output.stdout) \(output.stderr)")
    }

    @Test func retryQueueDeadLettersBackToItsMainQueueAfterTheTTL() async throws {
        try await withTopology { baseTopology, connection in
            var topology = baseTopology
            topology.retryDelayMilliseconds = 1000
            try await topology.declare(on: connection)
            let publisher = try await connection.openConfirmChannel()
            let channel = try await connection.openChannel()
            // Taken before the publish, so the broker's TTL cannot have started earlier.
            let published = ContinuousClock.now
            try await publisher.publish(Array("retry me".utf8), routingKey: topology.orders.retry, mandatory: true,
                                        properties: AMQPProperties(headers: ["x-retry-count": 1], deliveryMode: .persistent, messageID: "r1"))
            var delivered: AMQPDelivery?
            var arrival: Duration?
            while delivered == nil, ContinuousClock.now - published < .seconds(10) {
                delivered = try await channel.get(queue: topology.orders.main)
                if delivered == nil { try await Task.sleep(for: .milliseconds(25)) } else { arrival = ContinuousClock.now - published }
            }
            let message = try #require(delivered, "the message never left the retry queue")
            let waited = try #require(arrival)
            #expect(waited >= .milliseconds(topology.retryDelayMilliseconds), "reached the main queue after \(waited), before the TTL")
            #expect(message.body == Array("retry me".utf8))
            #expect(message.properties.headers["x-retry-count"] == .int64(1))
            #expect(message.properties.headers["x-death"] != nil)
            try await channel.ack(message.deliveryTag)
        }
    }
}
