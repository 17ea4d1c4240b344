import AMQP
import Foundation
import Logging
import Messaging
import OrderCore
import OrderStore
import OrderWorker
import Postgres
import Synchronization
import TestSupport
import Testing

/// An `order_events` message as a subscriber reads it.
struct ReceivedEvent {
    let eventId: String
    let orderId: String
    let sequence: Int
    let to: String
    let routingKey: String
    let properties: AMQPProperties

    init(_ delivery: AMQPDelivery) throws {
        let body = try #require(try JSONSerialization.jsonObject(with: Data(delivery.body)) as? [String: Any])
        eventId = try #require(body["eventId"] as? String)
        orderId = try #require(body["orderId"] as? String)
        sequence = try #require(body["sequence"] as? Int)
        to = try #require(body["to"] as? String)
        routingKey = delivery.routingKey
        properties = delivery.properties
    }
}

extension OrderSystemFixture {
    /// A queue bound to this fixture's `order_events` with `keys`: what a
    /// subscriber would receive. It expires by itself a while after the test.
    func eventProbe(_ name: String, keys: [String] = ["order.#"]) async throws -> String {
        let queue = prefix + "probe-" + name
        let channel = try await broker.openChannel()
        try await channel.declareQueue(queue, durable: false, arguments: ["x-expires": .int64(600_000)])
        for key in keys { try await channel.bindQueue(queue, exchange: topology.orderEvents, routingKey: key) }
        await channel.close()
        return queue
    }

    /// Every transition ordersdb holds for these orders: order id → event ids by sequence.
    func recordedEvents(_ ids: [UUID]) throws -> [String: [Int: String]] {
        try Self.database { connection in
            var events: [String: [Int: String]] = [:]
            for row in try connection.query(
                "SELECT order_id, seq, event_id FROM order_transitions WHERE order_id = ANY($1::uuid[])",
                [Self.arrayParameter(ids.map(\.uuidString))]
            ).rows {
                events[try row.decode(0, as: UUID.self).uuidString.lowercased(), default: [:]][try row.decode(1)] =
                    try row.decode(2, as: UUID.self).uuidString.lowercased()
            }
            return events
        }
    }

    /// Reads the probe until it holds every event ordersdb recorded for `ids` (or the timeout passes).
    func receiveEvents(on probe: String, for ids: [UUID], timeout: Duration = .seconds(30)) async throws -> [ReceivedEvent] {
        let deadline = ContinuousClock.now + timeout
        var received: [ReceivedEvent] = []
        while true {
            received += try await drain(probe).map(ReceivedEvent.init)
            let expected = Set(try recordedEvents(ids).values.flatMap(\.values))
            if expected.isSubset(of: Set(received.map(\.eventId))) || ContinuousClock.now > deadline { return received }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// Every transition of every order reached the probe, each event id meaning one
    /// transition (dedup by event id leaves exactly ordersdb's history, nothing from a
    /// transaction that rolled back), without a gap in any order's sequence.
    func expectEveryTransitionPublished(_ received: [ReceivedEvent], for ids: [UUID], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let recorded = try recordedEvents(ids)
        #expect(recorded.count == Set(ids).count, "every order has a history", sourceLocation: sourceLocation)
        // Another test's order that this fixture's sweeper cancelled (its hold expired;
        // the tests share one database) is announced here too, with its whole history
        // (RESERVED, then CANCELLED): only such an order may be foreign.
        let foreign = Dictionary(grouping: received.filter { recorded[$0.orderId] == nil }, by: \.orderId)
        #expect(foreign.values.allSatisfy { $0.contains { $0.to == "CANCELLED" } },
                "events of other orders: \(foreign.values.flatMap { $0 }.prefix(3).map { "\($0.orderId) → \($0.to)" })",
                sourceLocation: sourceLocation)
        var byId: [String: ReceivedEvent] = [:]
        for event in received where recorded[event.orderId] != nil {
            if let earlier = byId[event.eventId] {
                #expect(earlier.sequence == event.sequence && earlier.orderId == event.orderId, "a re-published event is the same event",
                        sourceLocation: sourceLocation)
            }
            byId[event.eventId] = event
        }
        let recordedIds = Set(recorded.values.flatMap(\.values))
        #expect(Set(byId.keys).subtracting(recordedIds).isEmpty, "published but never committed: \(Set(byId.keys).subtracting(recordedIds).prefix(3))",
                sourceLocation: sourceLocation)
        for (orderId, history) in recorded {
            let sequences = byId.values.filter { $0.orderId == orderId }.map(\.sequence).sorted()
            #expect(sequences == Array(1...history.count), "order \(orderId): sequences \(sequences) of \(history.count)", sourceLocation: sourceLocation)
            for (sequence, eventId) in history {
                let event = byId[eventId]
                #expect(event?.sequence == sequence, "order \(orderId) event \(sequence) missing", sourceLocation: sourceLocation)
                #expect(event?.properties.messageID == eventId && event?.properties.correlationID == orderId, sourceLocation: sourceLocation)
            }
        }
    }

    /// An outbox relay for this fixture's topology, on a pool of its own (run both).
    func relay(amqpURL: String = TestEnvironment.amqpURL) throws -> (PostgresPool, OutboxRelay) {
        var logger = Logger(label: "test-relay")
        logger.logLevel = .critical
        let pool = PostgresPool(configuration: try PostgresConfiguration(url: TestEnvironment.databaseURL), size: 1, logger: logger)
        let relay = OutboxRelay(
            configuration: OutboxRelay.Configuration(
                amqp: try AMQPConfiguration(url: amqpURL, connectionName: "test-relay"), scope: topology.outboxScope, batchSize: 40,
                pollInterval: .milliseconds(50), retryDelay: .milliseconds(50)...(.milliseconds(200))),
            database: pool, logger: logger)
        return (pool, relay)
    }

    /// Stock movements of a product per kind, summed.
    func movements(of product: String) throws -> [String: Int] {
        try Self.database { connection in
            Dictionary(uniqueKeysWithValues: try connection.query(
                "SELECT kind, sum(quantity)::int FROM stock_movements WHERE product_id = $1 GROUP BY kind", [product]
            ).rows.map { (try $0.decode(0, as: String.self), try $0.decode(1, as: Int.self)) })
        }
    }

    /// The ledger identity per vendor: initial = stock + Σallocate + Σhold − Σrelease − Σrestock.
    func expectLedgerBalances(_ product: String, initial: [String: Int], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let rows = try Self.database { connection in
            try connection.query(
                """
                SELECT s.vendor_id, s.stock + coalesce(sum(CASE m.kind WHEN 'allocate' THEN m.quantity WHEN 'hold' THEN m.quantity
                    ELSE -m.quantity END), 0)::int
                FROM vendor_stock s LEFT JOIN stock_movements m ON m.product_id = s.product_id AND m.vendor_id = s.vendor_id
                WHERE s.product_id = $1 GROUP BY s.vendor_id, s.stock
                """, [product]
            ).rows.map { (try $0.decode(0, as: String.self), try $0.decode(1, as: Int.self)) }
        }
        #expect(Dictionary(uniqueKeysWithValues: rows) == initial, "ledger of \(product)", sourceLocation: sourceLocation)
    }
}

/// Commits each window, then fails as a crash between commit and publish would:
/// nothing the window implies is published and every message goes back.
final class CommitThenFailHandler: DeliveryHandler {
    let inner: OrderMessageHandler
    let failures = Mutex(0)
    let windowsToFail: Int

    init(_ inner: OrderMessageHandler, windowsToFail: Int) {
        self.inner = inner
        self.windowsToFail = windowsToFail
    }

    struct LostAfterCommit: Error {}

    func handleBatch(_ deliveries: [AMQPDelivery], logger: Logger) async throws -> HandledWindow {
        let handled = try await inner.handleBatch(deliveries, logger: logger)
        let fail = failures.withLock { count in
            defer { count += 1 }
            return count < windowsToFail
        }
        if fail { throw LostAfterCommit() }
        return handled
    }
}

@Suite(.timeLimit(.minutes(4))) struct OrderEventsTests {
    /// The worker commits and then loses what it was about to publish: the
    /// messages come back, are found applied, and the duplicate re-publishes
    /// the whole history and the allocations.
    @Test func aCrashBetweenCommitAndPublishStillPublishes() async throws {
        try await OrderSystemFixture.with(retryDelayMilliseconds: 500) { system in
            let product = try system.product("lost-publish", stock: ["vendorA": 100])
            let probe = try await system.eventProbe("lost")
            let orders = (0..<10).map { _ in
                OrderPlaced(orderId: UUID(), lines: [OrderLine(productId: product, quantity: 2)], idempotencyKey: nil, acceptedAt: Date())
            }
            for order in orders { try await system.publish(order) }
            let ids = orders.map(\.orderId)
            let received = try await system.withWorker(["WORKER_BATCH_SIZE": "5", "WORKER_CONCURRENCY": "1"], wrap: { CommitThenFailHandler($0, windowsToFail: 2) }) {
                _ = try await system.waitForOrders(ids)
                return try await system.receiveEvents(on: probe, for: ids)
            }
            try system.expectEveryTransitionPublished(received, for: ids)
            #expect(try system.statuses(ids).values.allSatisfy { $0 == "CONFIRMED" })
            #expect(try system.stock(of: product) == ["vendorA": 80], "applied once")
            let allocations = try OrderSystemFixture.movements(in: try await system.drain(system.topology.vendorSync.main).map(\.body))
            #expect(Set(allocations.map(\.orderId)) == Set(ids), "every allocation reached vendor_sync")
        }
    }

    /// SIGKILL while windows commit and publish: after the restart every
    /// transition has been published (the unacked windows come back as duplicates).
    @Test func aKilledWorkerPublishesEveryCommittedTransitionAfterRestart() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.product("killed-events", stock: ["vendorA": 1800])
            let probe = try await system.eventProbe("killed")
            // Enough orders that the ones after the 200th outlast a slow status poll: the kill lands mid-stream.
            let orders = (0..<3000).map { _ in
                OrderPlaced(orderId: UUID(), lines: [OrderLine(productId: product, quantity: 1)], idempotencyKey: nil, acceptedAt: Date())
            }
            let channel = try await system.broker.openConfirmChannel()
            try await channel.publish(orders.map {
                AMQPOutgoingMessage($0.encoded(), routingKey: system.topology.orders.main, mandatory: true, properties: $0.amqpProperties(appID: "test"))
            })
            let ids = orders.map(\.orderId)
            let environment = system.environment.merging(["LOG_LEVEL": "warning", "WORKER_PREFETCH": "100", "WORKER_BATCH_SIZE": "50"]) { $1 }
            let first = try ChildProcess("order-worker", environment: environment)
            let deadline = ContinuousClock.now + .seconds(60)
            while try system.statuses(ids).count < 200, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            first.kill(SIGKILL)
            _ = await first.waitForExit()
            #expect(try system.statuses(ids).count < orders.count, "killed mid-stream")

            let second = try ChildProcess("order-worker", environment: environment)
            _ = try await system.waitForOrders(ids, timeout: .seconds(90))
            let received = try await system.receiveEvents(on: probe, for: ids)
            second.kill(SIGTERM)
            #expect(await second.waitForExit() == 0)
            try system.expectEveryTransitionPublished(received, for: ids)
            #expect(try system.statuses(ids).values.filter { $0 == "CONFIRMED" }.count == 1800)
        }
    }

    /// Outbox rows are published in id order, with their properties, and
    /// deleted; a row written in a transaction that rolled back never is.
    /// Two relays on one topology: one publishes, the other stands by, so each
    /// row goes once and in order.
    @Test func theRelayPublishesCommittedOutboxRowsInOrderOnceAndDeletesThem() async throws {
        try await OrderSystemFixture.with { system in
            let probe = try await system.eventProbe("outbox", keys: ["outbox.#"])
            func event(_ id: String) -> OutboundMessage {
                OutboundMessage(
                    exchange: system.topology.orderEvents, routingKey: "outbox.test", messageId: id, correlationId: "order-\(id)",
                    type: "outbox.test.v1", body: Array(#"{"id":"\#(id)"}"#.utf8))
            }
            let movement = VendorMovement(movementId: UUID(), kind: .restock, orderId: UUID(), vendorId: "vendorA", productId: "p", quantity: 3)
            try OrderSystemFixture.database { connection in
                struct Rollback: Error {}
                #expect(throws: Rollback.self) {
                    try connection.withTransaction { connection in
                        try Outbox.enqueue([event("rolled-back")], on: connection)
                        throw Rollback()
                    }
                }
                try connection.withTransaction { connection in
                    try Outbox.enqueue((0..<150).map { event("m-\($0)") }, on: connection)
                    try Outbox.enqueue([movement.outboundMessage(queue: system.topology.vendorSync.main)], on: connection)
                }
                try Outbox.enqueue((150..<300).map { event("m-\($0)") }, on: connection)
            }
            let (poolA, relayA) = try system.relay(), (poolB, relayB) = try system.relay()
            let logger = Logger(label: "test-relays")
            let received = try await system.withServices([poolA, poolB, relayA, relayB], logger: logger) {
                #expect(try await system.waitForDepth(probe, atLeast: 300) == 300)
                try await Task.sleep(for: .milliseconds(500))
                return try await system.drain(probe)
            }
            #expect(received.map(\.properties.messageID) == (0..<300).map { "m-\($0)" }, "each once, in id order")
            let first = try #require(received.first)
            #expect(first.properties.correlationID == "order-m-0" && first.properties.type == "outbox.test.v1")
            #expect(first.properties.isPersistent && first.properties.contentType == "application/json")
            #expect(first.body == Array(#"{"id":"m-0"}"#.utf8))
            let vendorSync = try await system.drain(system.topology.vendorSync.main)
            #expect(vendorSync.count == 1)
            #expect(try vendorSync.first.map { try VendorMovement.decode($0.body) } == movement)
            #expect(vendorSync.first?.properties.messageID == movement.movementId.uuidString.lowercased())
            let left = try OrderSystemFixture.database { connection in
                try Outbox.pending(system.topology.outboxScope, limit: 1000, on: connection)
            }
            #expect(left.isEmpty, "published rows are deleted")
        }
    }

    /// The relay holding the lock cannot reach the broker: its rounds fail and
    /// leave every row; the standby relay publishes nothing meanwhile, takes
    /// over when the first one's session ends, and publishes every row once, in order.
    @Test func aRelayThatCannotPublishLosesNothingAndTheStandbyTakesOver() async throws {
        try await OrderSystemFixture.with { system in
            let probe = try await system.eventProbe("failover", keys: ["outbox.#"])
            try OrderSystemFixture.database { connection in
                try Outbox.enqueue((0..<100).map {
                    OutboundMessage(
                        exchange: system.topology.orderEvents, routingKey: "outbox.failover", messageId: "f-\($0)", correlationId: nil,
                        type: "outbox.failover.v1", body: Array("{}".utf8))
                }, on: connection)
            }
            let logger = Logger(label: "test-relays")
            // Nothing listens on port 1.
            let (poolA, relayA) = try system.relay(amqpURL: "amqp://guest:guest@127.0.0.1:1/%2F")
            let failing = RunningServices([poolA, relayA], logger: logger)
            try await Task.sleep(for: .seconds(1))
            let (poolB, relayB) = try system.relay()
            let standby = RunningServices([poolB, relayB], logger: logger)
            try await Task.sleep(for: .seconds(1))
            #expect(try await system.depth(probe) == 0, "only the relay holding the lock publishes")
            #expect(try OrderSystemFixture.database { try Outbox.pending(system.topology.outboxScope, limit: 1000, on: $0) }.count == 100)

            await failing.stop()
            #expect(try await system.waitForDepth(probe, atLeast: 100) == 100)
            try await Task.sleep(for: .milliseconds(300))
            await standby.stop()
            let received = try await system.drain(probe)
            #expect(received.map(\.properties.messageID) == (0..<100).map { "f-\($0)" })
            #expect(try OrderSystemFixture.database { try Outbox.pending(system.topology.outboxScope, limit: 1000, on: $0) }.isEmpty)
        }
    }

    /// An order that asks for a payment holds its stock (RESERVED): a
    /// reservation with the configured deadline, `hold` movements, nothing
    /// told to the vendors yet.
    @Test func aPaymentOrderIsReservedWithAHoldUntilItsDeadline() async throws {
        try await OrderSystemFixture.with { system in
            let initial = ["vendorA": 4, "vendorB": 3]
            let product = try system.product("reserved", stock: initial)
            try system.price(product, 100)  // an order that pays buys priced products only
            let probe = try await system.eventProbe("reserved")
            let order = OrderPlaced(
                orderId: UUID(), lines: [OrderLine(productId: product, quantity: 6)], idempotencyKey: nil, acceptedAt: Date(),
                payment: PaymentRequest(method: "pm_card_visa"))
            try await system.publish(order)
            let received = try await system.withWorker(["RESERVATION_TTL_SECONDS": "120"]) {
                #expect(try await system.waitForOrders([order.orderId])[order.orderId] == "RESERVED")
                return try await system.receiveEvents(on: probe, for: [order.orderId])
            }
            try system.expectEveryTransitionPublished(received, for: [order.orderId])
            #expect(received.map(\.routingKey) == ["order.reserved"])
            #expect(try system.stock(of: product).values.reduce(0, +) == 1)
            #expect(try system.movements(of: product) == ["hold": 6])
            try system.expectLedgerBalances(product, initial: initial)
            try OrderSystemFixture.database { connection in
                let row = try connection.query(
                    """
                    SELECT r.status, extract(epoch FROM r.expires_at - r.created_at)::int, o.reserved_until = r.expires_at,
                           (SELECT count(*)::int FROM stock_movements m WHERE m.reservation_id = r.id AND m.kind = 'hold' AND m.order_id = o.id)
                    FROM reservations r JOIN orders o ON o.id = r.order_id WHERE o.id = $1
                    """, [order.orderId]
                ).singleRow()
                #expect(try row.decode(0, as: String.self) == "ACTIVE")
                #expect(try row.decode(1, as: Int.self) == 120)
                #expect(try row.decode(2, as: Bool.self), "reserved_until is the reservation's deadline")
                #expect(try row.decode(3, as: Int.self) >= 1)
            }
            #expect(try await system.depth(system.topology.vendorSync.main) == 0, "a hold never reaches the vendor")
        }
    }

    /// An order naming a checkout hold consumes it: confirmed without taking the
    /// stock twice (release + allocate, the vendors told), and each unusable
    /// hold is a REJECTED order with its reason.
    @Test func anOrderConsumesItsCheckoutHoldOnceAndIsRefusedAnUnusableOne() async throws {
        try await OrderSystemFixture.with { system in
            let initial = ["vendorA": 20]
            let product = try system.product("hold", stock: initial)
            /// A checkout hold of `quantity` units at vendorA, as POST /inventory/reservations writes one.
            func hold(_ quantity: Int, status: String = "ACTIVE", expiresIn: Int = 600) throws -> UUID {
                let id = UUID()
                try OrderSystemFixture.database { connection in
                    try connection.withTransaction { connection in
                        try connection.query(
                            "INSERT INTO reservations (id, status, expires_at, ended_at) VALUES ($1, $2, now() + make_interval(secs => $3), CASE WHEN $2 = 'ACTIVE' THEN NULL ELSE now() END)",
                            [id, status, expiresIn])
                        try connection.query(
                            "INSERT INTO stock_movements (id, kind, status, reservation_id, vendor_id, product_id, quantity) VALUES (gen_random_uuid(), 'hold', 'LOCAL', $1, 'vendorA', $2, $3)",
                            [id, product, quantity])
                        if status == "ACTIVE" {
                            try connection.query("UPDATE vendor_stock SET stock = stock - $2 WHERE product_id = $1 AND vendor_id = 'vendorA'", [product, quantity])
                        } else {
                            try connection.query(
                                "INSERT INTO stock_movements (id, kind, status, reservation_id, vendor_id, product_id, quantity) VALUES (gen_random_uuid(), 'release', 'LOCAL', $1, 'vendorA', $2, $3)",
                                [id, product, quantity])
                        }
                    }
                }
                return id
            }
            func order(_ quantity: Int, consuming reservation: UUID) -> OrderPlaced {
                OrderPlaced(orderId: UUID(), lines: [OrderLine(productId: product, quantity: quantity)], idempotencyKey: nil, acceptedAt: Date(), reservationId: reservation)
            }
            let good = try hold(3), released = try hold(2, status: "RELEASED"), expired = try hold(2, expiresIn: -5), other = try hold(2)
            let cases: [(order: OrderPlaced, reason: String?)] = [
                (order(3, consuming: good), nil),
                (order(3, consuming: good), "reservation-consumed"),
                (order(1, consuming: UUID()), "reservation-not-found"),
                (order(2, consuming: released), "reservation-released"),
                (order(2, consuming: expired), "reservation-expired"),
                (order(3, consuming: other), "reservation-mismatch"),
            ]
            // The expired hold: any sweeper (another test's: there is one database)
            // may end it at any moment from now on, giving its 2 units back.
            func swept() throws -> Bool {
                try OrderSystemFixture.database { connection in
                    try connection.query("SELECT status FROM reservations WHERE id = $1", [expired]).singleRow().decode(0, as: String.self)
                } == "EXPIRED"
            }
            #expect(try system.stock(of: product) == ["vendorA": 20 - 3 - 2 - (swept() ? 0 : 2)])
            for (order, _) in cases { try await system.publish(order) }
            let ids = cases.map(\.order.orderId)
            // One loop: the two orders naming `good` are decided in queue order.
            try await system.withWorker(["WORKER_CONCURRENCY": "1"]) { () async throws in
                #expect(try await system.waitForOrders(ids).count == ids.count)
            }
            let rows = try OrderSystemFixture.database { connection in
                Dictionary(uniqueKeysWithValues: try connection.query(
                    "SELECT id, status, reason, reservation_id FROM orders WHERE id = ANY($1::uuid[])", [OrderSystemFixture.arrayParameter(ids.map(\.uuidString))]
                ).rows.map { (try $0.decode(0, as: UUID.self), (status: try $0.decode(1, as: String.self), reason: try $0.decode(2, as: String?.self), reservation: try $0.decode(3, as: UUID?.self))) })
            }
            for (order, reason) in cases {
                let row = try #require(rows[order.orderId])
                if let reason {
                    #expect(row.status == "REJECTED" && row.reason?.hasPrefix(reason + ":") == true, "\(reason): \(row)")
                } else {
                    #expect(row.status == "CONFIRMED" && row.reason == nil && row.reservation == good)
                }
            }
            // The consumed hold became the order's allocation; nothing else moved but a sweep of the expired hold.
            let wasSwept = try swept()
            #expect(try system.stock(of: product) == ["vendorA": wasSwept ? 15 : 13], "the hold's units were not taken twice")
            #expect(try system.movements(of: product) == ["hold": 9, "release": wasSwept ? 7 : 5, "allocate": 3])
            try system.expectLedgerBalances(product, initial: initial)
            let consumed = try OrderSystemFixture.database { connection in
                try connection.query("SELECT status, order_id FROM reservations WHERE id = $1", [good]).singleRow()
            }
            #expect(try consumed.decode(0, as: String.self) == "CONSUMED")
            #expect(try consumed.decode(1, as: UUID.self) == cases[0].order.orderId)
            let vendorSync = try OrderSystemFixture.movements(in: try await system.drain(system.topology.vendorSync.main).map(\.body))
            #expect(vendorSync.map(\.orderId) == [cases[0].order.orderId] && vendorSync.map(\.quantity) == [3] && vendorSync.map(\.kind) == [.allocate])
        }
    }

    /// A product crossing its threshold is announced once per crossing:
    /// low_stock at 5, out_of_stock at 0, nothing for the orders between or
    /// the one rejected after; back_in_stock when stock returns.
    @Test func inventoryEventsFireOncePerCrossing() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.product("levels", stock: ["vendorA": 8])
            let probe = try await system.eventProbe("levels", keys: ["inventory.#"])
            let orders = (0..<9).map { _ in
                OrderPlaced(orderId: UUID(), lines: [OrderLine(productId: product, quantity: 1)], idempotencyKey: nil, acceptedAt: Date())
            }
            for order in orders { try await system.publish(order) }
            func events() async throws -> [(key: String, available: Int)] {
                try await system.drain(probe).compactMap { delivery in
                    guard delivery.properties.correlationID == product else { return nil }
                    let body = try #require(try JSONSerialization.jsonObject(with: Data(delivery.body)) as? [String: Any])
                    return (delivery.routingKey, try #require(body["available"] as? Int))
                }
            }
            try await system.withWorker(["WORKER_BATCH_SIZE": "1", "WORKER_CONCURRENCY": "1", "LOW_STOCK_THRESHOLD": "5"]) { () async throws in
                _ = try await system.waitForOrders(orders.map(\.orderId))
                // At least: this worker's sweeper may also end another test's expired hold
                // (one database), whose inventory event then comes here too; events() keeps this product's.
                #expect(try await system.waitForDepth(probe, atLeast: 2) >= 2)
                try await Task.sleep(for: .milliseconds(800))
                let crossed = try await events()
                #expect(crossed.map(\.key) == ["inventory.low_stock", "inventory.out_of_stock"], "\(crossed)")
                #expect(crossed.map(\.available) == [5, 0])

                // Stock comes back (as a cancellation's restock does it): announced once.
                let settings = try system.applierSettings
                try OrderSystemFixture.database { connection in
                    try connection.withTransaction { connection in
                        try connection.query("UPDATE vendor_stock SET stock = stock + 3 WHERE product_id = $1", [product])
                        try InventoryLevels.update([product], policy: settings.stockLevels, exchange: settings.eventsExchange, on: connection)
                        try InventoryLevels.update([product], policy: settings.stockLevels, exchange: settings.eventsExchange, on: connection)
                    }
                }
                #expect(try await system.waitForDepth(probe, atLeast: 1) >= 1)
                try await Task.sleep(for: .milliseconds(500))
                let back = try await events()
                #expect(back.map(\.key) == ["inventory.back_in_stock"] && back.map(\.available) == [3], "\(back)")
            }
            #expect(try system.statuses(orders.map(\.orderId)).values.filter { $0 == "REJECTED" }.count == 1)
        }
    }
}

/// Holds a stock row lock for seconds so that windows time out and roll back:
/// alone in scripts/test's second phase, since a stock-sync of another test
/// would queue behind that lock and hold up every test's vendorA rows.
@Suite(.timeLimit(.minutes(4))) struct SoloOrderEventsRollbackTests {
    /// Orders confirmed, rejected and held, a copy of one, and windows whose
    /// transaction rolls back (a lock timeout) before they commit: every
    /// committed transition is published once per event id, gapless, and no
    /// event of a rolled-back attempt ever is.
    @Test func everyCommittedTransitionIsPublishedAndNoRolledBackOne() async throws {
        try await OrderSystemFixture.with(retryDelayMilliseconds: 1000) { system in
            let product = try system.product("events", stock: ["vendorA": 10, "vendorB": 5])
            let held = try system.product("events-held", stock: ["vendorB": 5])
            try system.price(held, 100)  // an order that pays buys priced products only
            let locked = try system.product("events-locked", stock: ["vendorA": 5])
            let probe = try await system.eventProbe("all")
            func order(_ product: String, payment: Bool = false) -> OrderPlaced {
                OrderPlaced(
                    orderId: UUID(), lines: [OrderLine(productId: product, quantity: 1)], idempotencyKey: nil, acceptedAt: Date(),
                    payment: payment ? PaymentRequest(method: "pm_card_visa") : nil)
            }
            let orders = (0..<20).map { _ in order(product) } + (0..<3).map { _ in order(held, payment: true) }
            let blocked = (0..<3).map { _ in order(locked) }
            // Another session holds `locked`'s stock row: the windows with those orders time out and roll back.
            let blocker = try StockRowLock(locked)
            defer { blocker.release() }
            for order in blocked + orders { try await system.publish(order) }
            try await system.publish(orders[0])  // a copy: re-publishes its history

            let ids = (orders + blocked).map(\.orderId)
            let environment = [
                "DATABASE_URL": TestEnvironment.databaseURL + "?options=-c%20lock_timeout%3D300", "WORKER_CONCURRENCY": "1", "MAX_RETRIES": "20",
            ]
            let received = try await system.withWorker(environment) {
                let statuses = try await system.waitForOrders(orders.map(\.orderId))
                #expect(statuses.count == orders.count)
                // A retry at least (1 s apart) has rolled back before the lock goes.
                try await Task.sleep(for: .milliseconds(1500))
                blocker.release()
                _ = try await system.waitForOrders(ids)
                return try await system.receiveEvents(on: probe, for: ids)
            }
            try system.expectEveryTransitionPublished(received, for: ids)
            let statuses = try system.statuses(ids)
            #expect(orders.prefix(15).allSatisfy { statuses[$0.orderId] == "CONFIRMED" })
            #expect(orders.dropFirst(15).prefix(5).allSatisfy { statuses[$0.orderId] == "REJECTED" })
            #expect(orders.suffix(3).allSatisfy { statuses[$0.orderId] == "RESERVED" })
            #expect(blocked.allSatisfy { statuses[$0.orderId] == "CONFIRMED" })
            #expect(Set(received.map(\.routingKey)) == ["order.confirmed", "order.rejected", "order.reserved"])
            // Without a crash each event goes once; the copy re-published the first order's.
            let copies = Dictionary(grouping: received, by: \.eventId).filter { $0.value.count > 1 }
            #expect(copies.values.allSatisfy { $0[0].orderId == orders[0].orderId.uuidString.lowercased() }, "\(copies.count)")
            for event in received {
                #expect(event.properties.isPersistent && event.properties.contentType == "application/json")
                #expect(event.properties.type == event.routingKey + ".v1")
            }
        }
    }
}
