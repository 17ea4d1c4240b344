import Foundation
import OrderCore
import TestSupport
import Testing

/// The order lifecycle end to end under crashes (issue 13, must-show 1 and 3):
/// thousands of orders with cancels before and after the worker reaches them,
/// checkout holds consumed, released and left to expire, partial returns, and
/// the order worker SIGKILLed twice; then the ledger, the vendor databases and
/// `order_events` must agree exactly. It kills only the worker processes it
/// started, but it loads the shared services for minutes, so it runs in the
/// chaos phase (CHAOS_TESTS=1).
@Suite(.serialized, .enabled(if: LocalServices.chaosEnabled, "minutes of load and worker kills: run by scripts/test in its own phase"), .timeLimit(.minutes(8)))
struct LifecycleChaosTests {
    typealias Item = LifecycleClient.Item

    @Test func fiveThousandOrdersWithCancelsHoldsReturnsAndTwoWorkerKillsKeepTheLedgerAndEventsExact() async throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        print("LifecycleChaosTests seed: \(seed)")
        var random = SplitMix64(seed: seed)
        try await OrderSystemFixture.with(retryDelayMilliseconds: 1000) { system in
            let vendors = ["vendorA", "vendorB"]
            let initialStock = ["vendorA": 1200, "vendorB": 800]
            let products = try (0..<5).map { try system.vendorProduct("life\($0)", stock: initialStock) }
            func items() -> [Item] {
                var chosen = products
                chosen.shuffle(using: &random)
                return chosen.prefix(Int.random(in: 1...2, using: &random)).map { Item(productId: $0, quantity: Int.random(in: 1...3, using: &random)) }
            }

            // The plan, drawn from the seed before anything runs.
            let consumeHolds = (0..<120).map { _ in items() }
            let releaseHolds = (0..<80).map { _ in items() }
            let earlyExpiringHolds = (0..<50).map { _ in items() }
            let lateExpiringHolds = (0..<50).map { _ in items() }
            let queuedPlain = (0..<1000).map { _ in items() }
            let cancelledWhileQueued = Set((0..<queuedPlain.count).shuffled(using: &random).prefix(250))
            let streamedPlain = (0..<3855).map { _ in PlannedOrder(items: items(), cancelAfter: Double.random(in: 0..<1, using: &random) < 0.12
                ? .milliseconds(Int.random(in: 0...200, using: &random)) : nil) }

            let laterSeed = random.next()

            let recorder = try await OrderEventRecorder.start(exchange: system.topology.orderEvents)
            let outcome: Outcome = try await system.withVendorSync {
                try await system.withLifecycleAPI { api in
                    var random = SplitMix64(seed: laterSeed)
                    var outcome = Outcome()
                    // Phase A: no worker yet. Holds, releases, and orders of which some are cancelled while QUEUED.
                    let consumed = try await Self.holds(consumeHolds, expiresIn: 600, api)
                    let released = try await Self.holds(releaseHolds, expiresIn: 600, api)
                    let earlyExpiring = try await Self.holds(earlyExpiringHolds, expiresIn: 2, api)
                    for hold in consumed + released + earlyExpiring { #expect(hold != nil, "a hold was refused while stock was plentiful") }
                    outcome.holds(consumed, .consumed)
                    outcome.holds(released, .released)
                    outcome.holds(earlyExpiring, .expired)
                    for reservation in released.prefix(40).compactMap({ $0 }) {
                        #expect(try await api.release(reservation) == 204, "DELETE /inventory/reservations/{id}")
                    }

                    let queued = try await ConcurrentRounds.map(Array(queuedPlain.enumerated())) { index, items in
                        (index, items, try await api.placeOrder(items))
                    }
                    for (index, items, id) in queued {
                        outcome.placed[id] = items
                        if cancelledWhileQueued.contains(index) { outcome.cancelledWhileQueued.insert(id) } else { outcome.plain.insert(id) }
                    }
                    for (index, reservation) in consumed.prefix(60).enumerated() {
                        guard let reservation else { continue }
                        let id = try await api.placeOrder(consumeHolds[index], reservationId: reservation)
                        outcome.consumers[reservation, default: []].append(id)
                        outcome.placed[id] = consumeHolds[index]
                    }
                    // A second order for ten of those holds: only one of the two may have it.
                    for (index, reservation) in consumed.prefix(10).enumerated() {
                        guard let reservation else { continue }
                        let id = try await api.placeOrder(consumeHolds[index], reservationId: reservation)
                        outcome.consumers[reservation, default: []].append(id)
                        outcome.placed[id] = consumeHolds[index]
                    }
                    for (index, reservation) in released.prefix(10).enumerated() {
                        guard let reservation else { continue }
                        let id = try await api.placeOrder(releaseHolds[index], reservationId: reservation)
                        outcome.namingReleasedHold.insert(id)
                        outcome.placed[id] = releaseHolds[index]
                    }
                    let cancels = try await ConcurrentRounds.map(Array(outcome.cancelledWhileQueued)) { id in (id, try await api.cancel(id, reason: "changed my mind")) }
                    for (id, response) in cancels { #expect(response.succeeded, "cancel of QUEUED order \(id): \(response.status) \(response.text)") }
                    for id in outcome.cancelledWhileQueued.prefix(10) { #expect(try await api.status(of: id) == "CANCELLED") }
                    for id in outcome.plain.prefix(10) { #expect(try await api.status(of: id) == "QUEUED", "QUEUED at once, before any worker") }

                    // Phase B: the worker starts; orders stream in, some cancelled while the worker takes them,
                    // holds are consumed, released and taken, and the worker is SIGKILLed twice.
                    var worker = try system.startWorkerProcess()
                    let streamed = SharedList<Streamed>()
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for slice in ConcurrentRounds.slices(streamedPlain.count, into: 8) {
                            group.addTask {
                                for planned in streamedPlain[slice] {
                                    let id = try await api.placeOrder(planned.items)
                                    var cancel: Int?
                                    if let delay = planned.cancelAfter {
                                        try await Task.sleep(for: delay)
                                        cancel = try await api.cancel(id).status
                                    }
                                    streamed.append(Streamed(id: id, items: planned.items, cancelStatus: cancel))
                                }
                            }
                        }
                        group.addTask {
                            for (offset, reservation) in consumed.dropFirst(60).enumerated() {
                                guard let reservation else { continue }
                                let items = consumeHolds[60 + offset]
                                streamed.append(Streamed(id: try await api.placeOrder(items, reservationId: reservation), items: items, reservation: reservation))
                            }
                            for reservation in released.dropFirst(40).compactMap({ $0 }) {
                                let status = try await api.release(reservation)
                                #expect(status == 204, "DELETE /inventory/reservations/\(reservation) answered \(status)")
                            }
                        }
                        group.addTask {
                            // Taken while stock runs out: a refusal (409) is an answer too.
                            for items in lateExpiringHolds {
                                if case .held(let id) = try await api.hold(items, expiresIn: 2) { streamed.append(Streamed(hold: id)) }
                            }
                        }
                        for threshold in [1400, 2800] {
                            let decided = try await system.waitForDecided(atLeast: threshold, of: { streamed.ids + queued.map(\.2) }, timeout: .seconds(150))
                            worker.kill(SIGKILL)
                            _ = await worker.waitForExit()
                            outcome.kills.append(decided)
                            // While holds are live and movements unapplied: stock-sync must re-inflate
                            // neither (the ledger identity checked at the end would not balance).
                            _ = try await system.stockSyncOnce()
                            worker = try system.startWorkerProcess()
                        }
                        try await group.waitForAll()
                    }
                    for entry in streamed.all {
                        if let hold = entry.hold {
                            outcome.holds([hold], .expired)
                            continue
                        }
                        guard let id = entry.id else { continue }
                        outcome.placed[id] = entry.items
                        if let reservation = entry.reservation {
                            outcome.consumers[reservation, default: []].append(id)
                        } else if let status = entry.cancelStatus {
                            outcome.racingCancels[id] = status
                        } else {
                            outcome.plain.insert(id)
                        }
                    }
                    let placedSoFar = Array(outcome.placed.keys)
                    #expect(try await system.waitUntilDecided(placedSoFar, timeout: .seconds(180)), "every order decided by a worker")

                    // Phase C: after the worker. Cancels of CONFIRMED orders, deliveries and partial returns,
                    // refused commands, and orders naming holds that expired.
                    let rows = try system.orderRows(placedSoFar)
                    var confirmed = outcome.plain.filter { rows[$0]?.status == "CONFIRMED" }.sorted { $0.uuidString < $1.uuidString }
                    confirmed.shuffle(using: &random)
                    #expect(confirmed.count >= 600, "enough CONFIRMED orders to cancel and return (\(confirmed.count))")
                    let cancelNow = Array(confirmed.prefix(150)), deliver = Array(confirmed.dropFirst(150).prefix(250))
                    outcome.plain.subtract(cancelNow)
                    outcome.plain.subtract(deliver)
                    for (id, response) in try await ConcurrentRounds.map(cancelNow, { id in (id, try await api.cancel(id)) }) {
                        #expect(response.succeeded, "cancel of a CONFIRMED order: \(response.status) \(response.text)")
                        outcome.cancelledAfterConfirmation.insert(id)
                    }
                    for id in deliver { try system.shipAndDeliver(id) }
                    let returnPlans = deliver.map { id in (id, Self.partialReturn(of: outcome.placed[id]!, using: &random)) }
                    for (id, response) in try await ConcurrentRounds.map(returnPlans, { id, items in (id, try await api.returnItems(id, items)) }) {
                        #expect(response.succeeded, "a partial return: \(response.status) \(response.text)")
                        if response.succeeded { outcome.returned(returnPlans.first { $0.0 == id }!.1, of: id) }
                    }
                    for id in deliver.prefix(50) {
                        // The rest of one line, in a second return.
                        guard let line = outcome.placed[id]!.first(where: { outcome.returnedUnits[id]?[$0.productId, default: 0] ?? 0 < $0.quantity }) else { continue }
                        let rest = [Item(productId: line.productId, quantity: line.quantity - (outcome.returnedUnits[id]?[line.productId] ?? 0))]
                        let response = try await api.returnItems(id, rest)
                        #expect(response.succeeded, "a second return of the remaining units: \(response.status) \(response.text)")
                        if response.succeeded { outcome.returned(rest, of: id) }
                    }
                    for id in deliver.dropFirst(50).prefix(30) {
                        let line = outcome.placed[id]![0]
                        let tooMany = [Item(productId: line.productId, quantity: line.quantity - (outcome.returnedUnits[id]?[line.productId] ?? 0) + 1)]
                        let response = try await api.returnItems(id, tooMany)
                        #expect(response.status == 409 || response.status == 400 || response.status == 422, "returning more than was bought is refused: \(response.status)")
                    }
                    for id in deliver.dropFirst(80).prefix(20) {
                        let response = try await api.cancel(id)
                        #expect(response.status == 409 && response.problemCode == "order-not-cancellable", "cancel after delivery: \(response.status) \(response.text)")
                    }
                    outcome.delivered = Set(deliver)
                    for (index, reservation) in earlyExpiring.prefix(5).enumerated() {
                        guard let reservation else { continue }
                        let id = try await api.placeOrder(earlyExpiringHolds[index], reservationId: reservation)
                        outcome.namingExpiredHold.insert(id)
                        outcome.placed[id] = earlyExpiringHolds[index]
                    }
                    #expect(try await system.waitUntilDecided(Array(outcome.namingExpiredHold), timeout: .seconds(60)))

                    // Phase D: everything settles while the API (and whatever it runs) is still up.
                    let stillMoving = try await system.waitForQuiescence(products: products, reservations: Array(outcome.holdKinds.keys), timeout: .seconds(120))
                    #expect(stillMoving == nil, "not quiescent: \(stillMoving ?? "")")
                    let settledStock = try products.map { try system.stock(of: $0) }
                    _ = try await system.stockSyncOnce()
                    #expect(try products.map { try system.stock(of: $0) } == settledStock, "once everything is applied, stock-sync finds nothing to correct")
                    let history = try system.history(of: Array(outcome.placed.keys))
                    let committed = history.values.map(\.count).reduce(0, +)
                    let arrived = try await recorder.waitForDistinctEvents(committed, timeout: .seconds(60))
                    #expect(arrived >= committed, "\(arrived) of \(committed) order events arrived")
                    // GET /orders/{id}/events lists the same history, for orders of every kind.
                    let sample = [outcome.cancelledWhileQueued, Set(outcome.racingCancels.keys), outcome.cancelledAfterConfirmation, outcome.delivered, outcome.plain]
                        .flatMap { $0.prefix(5) }
                    for id in sample {
                        // A wrong answer is recorded, not thrown: the ledger checks below still run.
                        let listed: [(sequence: Int, eventId: UUID, from: String, to: String)]
                        do { listed = try await api.events(of: id) } catch {
                            Issue.record(error)
                            continue
                        }
                        #expect(listed.map { "\($0.sequence) \($0.eventId) \($0.from)>\($0.to)" }
                                == (history[id] ?? []).map { "\($0.sequence) \($0.eventId) \($0.from)>\($0.to)" }, "GET /orders/\(id)/events")
                    }
                    worker.kill(SIGTERM)
                    #expect(await worker.waitForExit() == 0, "SIGTERM exits 0: \(worker.log.suffix(500))")
                    return outcome
                }
            }
            await recorder.stop()
            #expect(outcome.placed.count == 5000, "5,000 orders placed")
            #expect(outcome.kills.count == 2 && outcome.kills.allSatisfy { $0 > 0 && $0 < outcome.placed.count },
                    "the worker was killed twice mid-stream, after \(outcome.kills) decided orders")

            try Self.expectOrders(outcome, system)
            try Self.expectLedger(outcome, system, products: products, vendors: vendors, initialStock: initialStock)
            let history = try system.history(of: Array(outcome.placed.keys))
            let problems = recorder.problems(against: history)
            #expect(problems.isEmpty, "order_events disagrees with the history (\(problems.count) problems): \(problems.prefix(10))")
            print("LifecycleChaosTests seed \(seed): \(outcome.summary) \(recorder.deliveries.count) event deliveries, \(recorder.distinctEventCount) distinct")
        }
    }

    /// A transition whose transaction rolls back publishes nothing: a cancel
    /// recorded with its history and outbox rows, then thrown away. A committed
    /// transition of the same order afterwards is published, and once it has
    /// arrived anything the rolled-back one had written would have too (the
    /// relay publishes the outbox in id order).
    @Test func aRolledBackTransitionPublishesNothing() async throws {
        try await OrderSystemFixture.with(retryDelayMilliseconds: 1000) { system in
            let product = try system.vendorProduct("rollback", stock: ["vendorA": 10])
            let recorder = try await OrderEventRecorder.start(exchange: system.topology.orderEvents)
            try await system.withVendorSync {
                try await system.withLifecycleAPI { api in
                    let worker = try system.startWorkerProcess()
                    let order = try await api.placeOrder([Item(productId: product, quantity: 2)])
                    #expect(try await system.waitUntilDecided([order], timeout: .seconds(60)))
                    #expect(try await recorder.waitForEvent(of: order, sequence: 1, timeout: .seconds(30)), "the worker's CONFIRMED event")

                    let rolledBack = try system.rolledBackCancel(order)
                    #expect(rolledBack == 2)
                    #expect(try system.orderRows([order])[order]?.status == "CONFIRMED", "the status did not change")
                    #expect(try system.history(of: [order])[order]?.count == 1, "no history row survived")
                    #expect(try system.outboxRows(of: order) == 0, "no outbox row survived")
                    #expect(try system.stock(of: product) == ["vendorA": 8])

                    let cancelled = try await api.cancel(order)
                    #expect(cancelled.succeeded, "\(cancelled.status) \(cancelled.text)")
                    #expect(try await recorder.waitForEvent(of: order, sequence: 2, timeout: .seconds(30)), "the committed cancel's event")
                    try await Task.sleep(for: .seconds(1))
                    worker.kill(SIGTERM)
                    _ = await worker.waitForExit()
                }
            }
            await recorder.stop()
            let problems = recorder.problems(against: try system.history(of: recorder.deliveries.compactMap(\.orderId)))
            #expect(problems.isEmpty, "\(problems)")
            let cancelEvents = recorder.deliveries.filter { $0.sequence == 2 }
            #expect(Set(cancelEvents.compactMap(\.eventId)).count == 1, "one event for sequence 2: the committed cancel's, never the rolled-back one's")
            #expect(cancelEvents.allSatisfy { $0.from == "CONFIRMED" && $0.to == "CANCELLED" })
        }
    }

    // MARK: Plan and outcome

    struct PlannedOrder: Sendable {
        let items: [Item]
        /// Cancelled this long after its 202, while the worker takes orders.
        let cancelAfter: Duration?
    }

    /// What one stream task did: an order (maybe consuming a hold, maybe cancelled), or a hold it took.
    struct Streamed: Sendable {
        var id: UUID?
        var items: [Item] = []
        var cancelStatus: Int?
        var reservation: UUID?
        var hold: UUID?

        init(id: UUID, items: [Item], cancelStatus: Int? = nil, reservation: UUID? = nil) {
            self.id = id
            self.items = items
            self.cancelStatus = cancelStatus
            self.reservation = reservation
        }

        init(hold: UUID) { self.hold = hold }
    }

    enum HoldFate: String, Sendable { case consumed = "CONSUMED", released = "RELEASED", expired = "EXPIRED" }

    /// Everything the test did, by what it expects of each order and hold.
    struct Outcome: Sendable {
        var placed: [UUID: [Item]] = [:]
        var plain: Set<UUID> = []
        var cancelledWhileQueued: Set<UUID> = []
        /// Cancels sent while the worker ran, with the status each got.
        var racingCancels: [UUID: Int] = [:]
        var cancelledAfterConfirmation: Set<UUID> = []
        var delivered: Set<UUID> = []
        /// Units returned (answered 2xx) per order and product.
        var returnedUnits: [UUID: [String: Int]] = [:]
        /// The orders that named each consumable hold.
        var consumers: [UUID: [UUID]] = [:]
        var namingReleasedHold: Set<UUID> = []
        var namingExpiredHold: Set<UUID> = []
        var holdKinds: [UUID: HoldFate] = [:]
        var kills: [Int] = []

        mutating func holds(_ reservations: [UUID?], _ fate: HoldFate) {
            for reservation in reservations.compactMap({ $0 }) { holdKinds[reservation] = fate }
        }

        /// Units of `product` the orders bought.
        func units(of orders: [UUID], _ product: String) -> Int {
            var total = 0
            for order in orders {
                for item in placed[order] ?? [] where item.productId == product { total += item.quantity }
            }
            return total
        }

        mutating func returned(_ items: [Item], of order: UUID) {
            for item in items { returnedUnits[order, default: [:]][item.productId, default: 0] += item.quantity }
        }

        var summary: String {
            "\(placed.count) orders (\(cancelledWhileQueued.count) cancelled while QUEUED, \(racingCancels.count) cancels racing the worker, "
                + "\(cancelledAfterConfirmation.count) cancelled after confirmation, \(delivered.count) delivered of which "
                + "\(returnedUnits.count) returned), \(holdKinds.count) holds, kills after \(kills) decided orders;"
        }
    }

    // MARK: Final checks

    /// Every order's final state and history are what was done to it.
    static func expectOrders(_ outcome: Outcome, _ system: OrderSystemFixture) throws {
        let ids = Array(outcome.placed.keys)
        let rows = try system.orderRows(ids)
        let history = try system.history(of: ids)
        let movementsByOrder = Dictionary(grouping: try system.ledger(Array(Set(outcome.placed.values.flatMap { $0.map(\.productId) }))).filter { $0.orderId != nil }) { $0.orderId! }
        let returned = try system.returnedUnits(ids)
        #expect(rows.count == ids.count, "\(ids.count - rows.count) orders have no row")

        func path(_ id: UUID) -> [String] { (history[id] ?? []).map { "\($0.from)>\($0.to)" } }
        func units(_ id: UUID, _ kind: String) -> [String: Int] {
            (movementsByOrder[id] ?? []).filter { $0.kind == kind }.reduce(into: [:]) { $0[$1.productId, default: 0] += $1.quantity }
        }
        func bought(_ id: UUID) -> [String: Int] { outcome.placed[id]!.reduce(into: [:]) { $0[$1.productId, default: 0] += $1.quantity } }

        for id in ids {
            #expect(rows[id]?.lastSequence == history[id]?.count, "order \(id): last_seq is its history's length")
        }
        for id in outcome.cancelledWhileQueued {
            #expect(rows[id]?.status == "CANCELLED" && path(id) == ["QUEUED>CANCELLED"], "cancelled while QUEUED: \(path(id))")
            #expect(movementsByOrder[id] == nil, "a cancelled QUEUED order took nothing")
        }
        var racing = (cancelledFirst: 0, confirmedThenCancelled: 0, rejected: 0)
        for (id, status) in outcome.racingCancels {
            switch (status, path(id)) {
            case (200..<300, ["QUEUED>CANCELLED"]):
                racing.cancelledFirst += 1
                #expect(movementsByOrder[id] == nil, "cancelled before the worker: nothing taken")
            case (200..<300, ["QUEUED>CONFIRMED", "CONFIRMED>CANCELLED"]):
                racing.confirmedThenCancelled += 1
                #expect(units(id, "allocate") == bought(id) && units(id, "restock") == bought(id), "confirmed then cancelled: taken and restocked")
            case (409, ["QUEUED>REJECTED"]):
                racing.rejected += 1
            default:
                Issue.record("a cancel racing the worker answered \(status) and the order went \(path(id))")
            }
        }
        for id in outcome.cancelledAfterConfirmation {
            #expect(path(id) == ["QUEUED>CONFIRMED", "CONFIRMED>CANCELLED"], "cancelled after confirmation: \(path(id))")
            #expect(units(id, "allocate") == bought(id) && units(id, "restock") == bought(id), "restocked what it took")
        }
        for id in outcome.delivered {
            let steps = path(id)
            #expect(Array(steps.prefix(4)) == ["QUEUED>CONFIRMED", "CONFIRMED>SHIPPED", "SHIPPED>DELIVERED", "DELIVERED>RETURNED"]
                && steps.dropFirst(4).allSatisfy { $0 == "RETURNED>RETURNED" }, "delivered and returned: \(steps)")
            let expected = outcome.returnedUnits[id] ?? [:]
            #expect((returned[id] ?? [:]).filter { $0.value > 0 } == expected.filter { $0.value > 0 }, "order \(id): returned_quantity is what came back")
            #expect(units(id, "restock") == expected.filter { $0.value > 0 }, "order \(id): one restock per returned unit")
            for (product, units) in returned[id] ?? [:] { #expect(units <= bought(id)[product] ?? 0, "never more returned than bought") }
        }
        for id in outcome.plain {
            switch path(id) {
            case ["QUEUED>CONFIRMED"]: #expect(units(id, "allocate") == bought(id) && units(id, "restock").isEmpty)
            case ["QUEUED>REJECTED"]: #expect(movementsByOrder[id] == nil && rows[id]?.reason != nil)
            default: Issue.record("order \(id) went \(path(id))")
            }
        }
        let holds = try system.reservationStatuses(Array(outcome.holdKinds.keys))
        for (reservation, fate) in outcome.holdKinds {
            #expect(holds[reservation] == fate.rawValue, "hold \(reservation): \(holds[reservation] ?? "missing"), expected \(fate.rawValue)")
        }
        for (reservation, orders) in outcome.consumers {
            let winners = orders.filter { path($0) == ["QUEUED>CONFIRMED"] }
            #expect(winners.count == 1, "hold \(reservation) was consumed by exactly one order (\(orders.map(path)))")
            for id in orders where !winners.contains(id) {
                #expect(path(id) == ["QUEUED>REJECTED"] && rows[id]?.reason?.hasPrefix("reservation-consumed") == true, "a second order for a hold: \(rows[id]?.reason ?? "")")
            }
            for id in winners { #expect(units(id, "allocate") == bought(id), "the consumed hold became the order's allocation") }
        }
        for id in outcome.namingReleasedHold {
            #expect(path(id) == ["QUEUED>REJECTED"] && rows[id]?.reason?.hasPrefix("reservation-released") == true, "released hold: \(rows[id]?.reason ?? "")")
        }
        for id in outcome.namingExpiredHold {
            #expect(path(id) == ["QUEUED>REJECTED"] && rows[id]?.reason?.hasPrefix("reservation-expired") == true, "expired hold: \(rows[id]?.reason ?? "")")
        }
        print("LifecycleChaosTests racing cancels: \(racing)")
    }

    /// The ledger per (vendor, product) and per product, the model of what was
    /// taken and given back, and each vendor database against the movements it applied.
    static func expectLedger(_ outcome: Outcome, _ system: OrderSystemFixture, products: [String], vendors: [String], initialStock: [String: Int]) throws {
        let ledger = try system.ledger(products)
        #expect(ledger.filter { $0.status == "PENDING" }.isEmpty, "every vendor-bound movement settled")
        // The one refusal this run allows: a cancelled order's allocation that reached
        // its vendor after the units were sold again (the cancel had given them back
        // locally), and so its restock, void with it. Nothing else is ever refused.
        let conflicted = ledger.filter { $0.status == "CONFLICTED" }
        let pairs = Dictionary(grouping: conflicted) { "\($0.orderId.map { "\($0)" } ?? "") \($0.vendorId) \($0.productId)" }
        for (key, movements) in pairs {
            let units = { (kind: String) in movements.filter { $0.kind == kind }.map(\.quantity).reduce(0, +) }
            #expect(units("allocate") > 0 && units("allocate") == units("restock"), "refused without its void restock: \(key) \(movements)")
        }
        func sum(_ kind: String, _ product: String, vendor: String? = nil) -> Int {
            ledger.filter { $0.kind == kind && $0.productId == product && (vendor == nil || $0.vendorId == vendor) }.map(\.quantity).reduce(0, +)
        }
        let ids = Array(outcome.placed.keys)
        let history = try system.history(of: ids)
        let tookStock = ids.filter { history[$0]?.contains { $0.to == "CONFIRMED" } == true }
        let cancelledAfterTaking = ids.filter { history[$0]?.contains { $0.from == "CONFIRMED" && $0.to == "CANCELLED" } == true }
        for product in products {
            let stock = try system.stock(of: product)
            for vendor in vendors {
                let local = stock[vendor] ?? -1
                #expect(local >= 0, "\(vendor)/\(product) below zero: \(local)")
                let identity = local + sum("allocate", product, vendor: vendor) + sum("hold", product, vendor: vendor)
                    - sum("release", product, vendor: vendor) - sum("restock", product, vendor: vendor)
                #expect(identity == initialStock[vendor], "\(vendor)/\(product): initial = stock + allocate + hold - release - restock")

                let applied = try system.appliedMovements(vendor, [product])
                let appliedHere = ledger.filter { $0.vendorId == vendor && $0.productId == product && $0.status == "APPLIED" }
                #expect(Set(applied.map(\.id)).count == applied.count, "each movement applied once")
                #expect(Set(applied.map { "\($0.id) \($0.kind) \($0.quantity)" }) == Set(appliedHere.map { "\($0.id) \($0.kind) \($0.quantity)" }),
                        "\(vendor)/\(product): the vendor applied exactly the APPLIED movements")
                let net = applied.map { $0.kind == "allocate" ? $0.quantity : -$0.quantity }.reduce(0, +)
                let vendorStock = try system.vendorStock(vendor, product)
                #expect(vendorStock == initialStock[vendor]! - net, "\(vendor)/\(product): vendor stock = initial - net applied")
                #expect((vendorStock ?? -1) >= 0)
            }
            let available = stock.values.reduce(0, +)
            let held = sum("hold", product) - sum("release", product)
            let confirmed = sum("allocate", product), restocked = sum("restock", product)
            let initial = initialStock.values.reduce(0, +)
            #expect(held == 0, "\(product): no hold outlives its reservation (\(held) held)")
            #expect(initial == available + held + confirmed - restocked, "\(product): initial = available + held + confirmed - restocked")
            let returnedUnits: Int = outcome.returnedUnits.values.map { $0[product] ?? 0 }.reduce(0, +)
            let modelConfirmed = outcome.units(of: tookStock, product)
            let modelRestocked = outcome.units(of: cancelledAfterTaking, product) + returnedUnits
            #expect(confirmed == modelConfirmed, "\(product): allocated units are the lines of the orders that took stock")
            #expect(restocked == modelRestocked, "\(product): restocked units are what was cancelled after confirmation and returned")
        }
    }

    // MARK: Helpers

    static func holds(_ plans: [[Item]], expiresIn seconds: Int, _ api: LifecycleClient) async throws -> [UUID?] {
        try await ConcurrentRounds.map(plans) { items in
            if case .held(let id) = try await api.hold(items, expiresIn: seconds) { return id }
            return nil
        }
    }

    /// Some but not all of an order's units, per product.
    static func partialReturn(of items: [Item], using random: inout SplitMix64) -> [Item] {
        let total = items.map(\.quantity).reduce(0, +)
        var chosen = items.map { Item(productId: $0.productId, quantity: Int.random(in: 0...$0.quantity, using: &random)) }
        let count = chosen.map(\.quantity).reduce(0, +)
        if count == 0 { chosen[0] = Item(productId: chosen[0].productId, quantity: 1) }
        if count == total, total > 1, let index = chosen.firstIndex(where: { $0.quantity > 0 }) {
            chosen[index] = Item(productId: chosen[index].productId, quantity: chosen[index].quantity - 1)
        }
        return chosen.filter { $0.quantity > 0 }
    }
}

extension SharedList where Element == LifecycleChaosTests.Streamed {
    var ids: [UUID] { all.compactMap(\.id) }
}
