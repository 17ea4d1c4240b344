import Foundation
import OrderCore
import TestSupport
import Testing

/// Payments end to end against localstripe under crashes and outages (issue 14,
/// must-show 1–3): the order worker and the payment worker run as processes
/// that are SIGKILLed, paused, and left without their gateway; afterwards every
/// order, every payment row, localstripe's intents, charges and refunds, and
/// the stock must agree to the unit and the cent. They stop localstripe, a
/// shared service, and load it for minutes, so they run in the chaos phase.
@Suite(.serialized, .enabled(if: LocalServices.chaosEnabled, "kills workers and stops localstripe: run by scripts/test in its own phase"), .timeLimit(.minutes(10)))
struct PaymentChaosTests {
    typealias Item = LifecycleClient.Item

    static let prices = [1250, 799, 2400]
    static let declining = "pm_card_chargeCustomerFail"

    /// The products of a test, priced, with plenty of stock at two vendors (so
    /// that no order is refused for stock: each ends by its payment alone).
    static func catalogue(_ system: OrderSystemFixture, _ name: String) throws -> [(id: String, price: Int)] {
        try prices.enumerated().map { index, price in
            (try system.pricedProduct("\(name)\(index)", stock: ["vendorA": 3000, "vendorB": 3000], minor: price), price)
        }
    }

    struct Placed: Sendable {
        let id: UUID
        let items: [Item]
        let declines: Bool
        let amount: Int
    }

    static func plan(_ count: Int, catalogue: [(id: String, price: Int)], random: inout SplitMix64) -> [(items: [Item], declines: Bool, amount: Int)] {
        (0..<count).map { index in
            var chosen = catalogue
            chosen.shuffle(using: &random)
            let lines = chosen.prefix(Int.random(in: 1...2, using: &random)).map { ($0, Int.random(in: 1...3, using: &random)) }
            let amount = lines.reduce(0) { $0 + $1.0.price * $1.1 }
            return (lines.map { Item(productId: $0.0.id, quantity: $0.1) }, index % 3 == 2, amount)
        }
    }

    /// Must-show 1: 1,000 orders that pay, a third with a card that is declined;
    /// the payment worker and the order worker are each SIGKILLed once while
    /// orders stream in.
    @Test func aThousandPaidOrdersThroughAPaymentWorkerKillAndAnOrderWorkerKillReconcileToTheCent() async throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        print("PaymentChaosTests seed: \(seed)")
        var random = SplitMix64(seed: seed)
        try await OrderSystemFixture.with(retryDelayMilliseconds: 1000) { system in
            let catalogue = try Self.catalogue(system, "pay")
            let planned = Self.plan(1000, catalogue: catalogue, random: &random)
            let kills = SharedList<String>()
            let placed: [Placed] = try await system.withVendorSync {
                try await system.withLifecycleAPI { api in
                    var orderWorker = try system.startOrderWorkerProcess()
                    var paymentWorker = try system.startPaymentWorkerProcess()
                    let placed = SharedList<Placed>()
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for slice in ConcurrentRounds.slices(planned.count, into: 8) {
                            group.addTask {
                                for plan in planned[slice] {
                                    let id = try await api.placeOrder(plan.items, paymentMethod: plan.declines ? Self.declining : "pm_card_visa")
                                    placed.append(Placed(id: id, items: plan.items, declines: plan.declines, amount: plan.amount))
                                }
                            }
                        }
                        // Mid-stream: the payment worker at 250 payments settled, the order worker at 550.
                        let settled = { try system.payments(placed.all.map(\.id)).values.filter { $0.status != "PENDING" }.count }
                        try await waitUntil(timeout: .seconds(180)) { try settled() >= 250 }
                        paymentWorker.kill(SIGKILL)
                        _ = await paymentWorker.waitForExit()
                        kills.append("payment-worker after \(try settled()) payments settled")
                        paymentWorker = try system.startPaymentWorkerProcess()
                        try await waitUntil(timeout: .seconds(180)) { try settled() >= 550 }
                        orderWorker.kill(SIGKILL)
                        _ = await orderWorker.waitForExit()
                        kills.append("order-worker after \(try settled()) payments settled")
                        orderWorker = try system.startOrderWorkerProcess()
                        try await group.waitForAll()
                    }
                    let ids = placed.all.map(\.id)
                    let moving = try await system.waitForPayments(ids, timeout: .seconds(240)) { status, payment in
                        switch (status, payment?.status) {
                        case ("CONFIRMED", "CAPTURED"?), ("FAILED", "DECLINED"?), ("FAILED", "VOIDED"?), ("CANCELLED", "VOIDED"?), ("CANCELLED", "REFUNDED"?): true
                        default: false
                        }
                    }
                    #expect(moving == nil, "payments still moving: \(moving ?? "")")
                    #expect(try await system.waitForQuiescence(products: catalogue.map(\.id), reservations: [], timeout: .seconds(60)) == nil)
                    paymentWorker.kill(SIGTERM)
                    orderWorker.kill(SIGTERM)
                    #expect(await paymentWorker.waitForExit() == 0, "payment-worker exits 0 on SIGTERM: \(paymentWorker.log.suffix(400))")
                    #expect(await orderWorker.waitForExit() == 0, "order-worker exits 0 on SIGTERM: \(orderWorker.log.suffix(400))")
                    return placed.all
                }
            }
            #expect(placed.count == 1000)
            #expect(kills.all.count == 2, "both workers were killed mid-stream: \(kills.all)")
            print("PaymentChaosTests seed \(seed): kills \(kills.all)")
            try await Self.expectReconciled(placed, system, catalogue: catalogue)
        }
    }

    /// Must-show 2: localstripe is stopped for 60 s while orders stream in. The
    /// breaker opens, nothing is dead-lettered, nothing is charged twice, and
    /// once the gateway is back every order completes.
    @Test func aSixtySecondGatewayOutageOpensTheBreakerDeadLettersNothingAndEveryOrderCompletes() async throws {
        var random = SplitMix64(seed: UInt64.random(in: 0...UInt64.max))
        try await OrderSystemFixture.with(retryDelayMilliseconds: 1000) { system in
            let catalogue = try Self.catalogue(system, "outage")
            let planned = Self.plan(300, catalogue: catalogue, random: &random)
            let placed: [Placed] = try await system.withVendorSync {
                try await system.withLifecycleAPI { api in
                    let orderWorker = try system.startOrderWorkerProcess()
                    // At info: the breaker's state changes are what the test reads in its log.
                    let paymentWorker = try system.startPaymentWorkerProcess(["LOG_LEVEL": "info"])
                    var placed: [Placed] = []
                    func place(_ plans: ArraySlice<(items: [Item], declines: Bool, amount: Int)>) async throws {
                        for plan in plans {
                            let id = try await api.placeOrder(plan.items, paymentMethod: plan.declines ? Self.declining : "pm_card_visa")
                            placed.append(Placed(id: id, items: plan.items, declines: plan.declines, amount: plan.amount))
                        }
                    }
                    try await place(planned[0..<100])
                    try await waitUntil(timeout: .seconds(120)) { try system.payments(placed.map(\.id)).values.filter { $0.status != "PENDING" }.count >= 30 }
                    try LocalServices.stop(.localstripe)
                    let stoppedAt = ContinuousClock.now
                    do {
                        try await place(planned[100..<300])
                        try await Task.sleep(until: stoppedAt + .seconds(60))
                    } catch {
                        try LocalServices.start(.localstripe)
                        throw error
                    }
                    // While it is away: waiting, not dead-lettered, and the breaker said it opened.
                    #expect(try await system.deadLettered().isEmpty, "a gateway outage dead-letters nothing")
                    let waiting = try await system.depth(system.topology.payments.retry) + system.depth(system.topology.payments.main)
                    #expect(waiting > 0, "the payments wait in the payments queues")
                    #expect(paymentWorker.log.contains("circuit breaker opened"), "the payment worker logs the breaker opening: \(paymentWorker.log.suffix(600))")
                    try LocalServices.start(.localstripe)

                    let moving = try await system.waitForPayments(placed.map(\.id), timeout: .seconds(240)) { status, payment in
                        switch (status, payment?.status) {
                        case ("CONFIRMED", "CAPTURED"?), ("FAILED", "DECLINED"?), ("FAILED", "VOIDED"?), ("CANCELLED", "VOIDED"?), ("CANCELLED", "REFUNDED"?): true
                        default: false
                        }
                    }
                    #expect(moving == nil, "payments still moving after the outage: \(moving ?? "")")
                    #expect(try await system.waitForQuiescence(products: catalogue.map(\.id), reservations: [], timeout: .seconds(60)) == nil)
                    #expect(paymentWorker.log.contains("circuit breaker closed"), "the breaker closed again once the gateway answered")
                    paymentWorker.kill(SIGTERM)
                    orderWorker.kill(SIGTERM)
                    _ = await paymentWorker.waitForExit()
                    _ = await orderWorker.waitForExit()
                    return placed
                }
            }
            #expect(placed.count == 300)
            try await Self.expectReconciled(placed, system, catalogue: catalogue)
        }
    }

    /// Must-show 3: with reservations of 1 s and the payment worker paused, every
    /// order expires (CANCELLED, hold released) before it is paid; when the
    /// worker resumes, each authorization it then makes is late, voided, and
    /// recorded, and no stock is taken twice.
    @Test func authorizationsThatArriveAfterTheReservationExpiredAreVoidedAndTheOrdersStayCancelled() async throws {
        try await OrderSystemFixture.with(retryDelayMilliseconds: 1000) { system in
            let product = try system.pricedProduct("late", stock: ["vendorA": 100], minor: 1250)
            try await system.withVendorSync {
                try await system.withLifecycleAPI { api in
                    let orderWorker = try system.startOrderWorkerProcess(["RESERVATION_TTL_SECONDS": "1", "SWEEPER_INTERVAL_SECONDS": "1"])
                    let paymentWorker = try system.startPaymentWorkerProcess()
                    // It connects and consumes first, so the commands it takes are in its hands when it stops.
                    try await Task.sleep(for: .seconds(2))
                    paymentWorker.kill(SIGSTOP)
                    var orders: [UUID] = []
                    for index in 0..<30 {
                        orders.append(try await api.placeOrder([Item(productId: product, quantity: 1 + index % 2)], paymentMethod: "pm_card_visa"))
                    }
                    let units = (0..<30).reduce(0) { $0 + 1 + $1 % 2 }
                    try await waitUntil(timeout: .seconds(60)) { try system.statuses(orders).values.filter { $0 == "CANCELLED" }.count == orders.count }
                    #expect(try system.orderRows(orders).values.allSatisfy { $0.status == "CANCELLED" && $0.reason == OrderLifecycle.reservationExpiredReason })
                    #expect(try system.stock(of: product) == ["vendorA": 100], "every hold released: \(units) units back")
                    #expect(try system.payments(orders).values.allSatisfy { $0.status == "PENDING" && $0.intentId == nil }, "nothing paid yet")

                    paymentWorker.kill(SIGCONT)
                    let moving = try await system.waitForPayments(orders, timeout: .seconds(120)) { status, payment in
                        status == "CANCELLED" && payment?.status == "VOIDED"
                    }
                    #expect(moving == nil, "late authorizations not all voided: \(moving ?? "")")
                    let rows = try system.orderRows(orders)
                    #expect(rows.values.allSatisfy { $0.status == "CANCELLED" && $0.reason == OrderLifecycle.reservationExpiredReason }, "the orders stay CANCELLED")
                    let history = try system.history(of: orders)
                    for order in orders {
                        let late = history[order, default: []].filter { $0.from == "CANCELLED" && $0.to == "CANCELLED" }
                        #expect(late.count == 1, "order \(order): one late-payment transition in its history, got \(history[order] ?? [])")
                    }
                    let ledger = try GatewayLedger(orders: Set(orders))
                    for order in orders {
                        let intents = ledger.intents[order] ?? []
                        #expect(intents.count == 1 && intents.allSatisfy { $0.status == "canceled" }, "order \(order): its authorization voided: \(intents)")
                        #expect(ledger.net(order) == 0 && ledger.capturedIntents[order] == nil, "order \(order): nothing captured")
                    }
                    #expect(try system.stock(of: product) == ["vendorA": 100], "no stock taken by the late payments")
                    #expect(try system.ledger([product]).filter { $0.kind == "allocate" }.isEmpty, "nothing was allocated")
                    #expect(try await system.deadLettered().isEmpty)
                    paymentWorker.kill(SIGTERM)
                    orderWorker.kill(SIGTERM)
                    _ = await paymentWorker.waitForExit()
                    _ = await orderWorker.waitForExit()
                }
            }
        }
    }

    // MARK: Checks

    /// Every order ended by its card: a good card CONFIRMED with exactly one
    /// captured intent of its amount, a declining one FAILED with nothing
    /// captured and its hold released; localstripe's charges and refunds, the
    /// payment rows and the orders agree to the cent; the stock is exactly the
    /// initial stock less the confirmed orders' units, here and at the vendors;
    /// nothing is dead-lettered.
    static func expectReconciled(_ placed: [Placed], _ system: OrderSystemFixture, catalogue: [(id: String, price: Int)]) async throws {
        let ids = placed.map(\.id)
        let rows = try system.orderRows(ids)
        let payments = try system.payments(ids)
        let ledger = try GatewayLedger(orders: Set(ids))
        var confirmedUnits: [String: Int] = [:]
        var counts: [String: Int] = [:]
        for order in placed {
            let row = rows[order.id], payment = payments[order.id]
            counts[row?.status ?? "none", default: 0] += 1
            #expect(payment?.amount == order.amount && payment?.currency == "EUR", "order \(order.id): amount \(payment?.amount ?? -1), expected \(order.amount)")
            if order.declines {
                #expect(row?.status == "FAILED" && row?.reason == "card_declined", "order \(order.id) paid with a declining card: \(String(describing: row))")
                #expect(ledger.net(order.id) == 0 && ledger.capturedIntents[order.id] == nil, "order \(order.id): a declined card captured \(ledger.net(order.id))")
                #expect(payment?.captured == 0)
            } else {
                #expect(row?.status == "CONFIRMED", "order \(order.id) paid with a good card: \(String(describing: row))")
                #expect(ledger.capturedIntents[order.id] == 1, "order \(order.id): \(ledger.capturedIntents[order.id] ?? 0) captured intents, expected exactly one")
                #expect(ledger.net(order.id) == order.amount, "order \(order.id): localstripe kept \(ledger.net(order.id)), the order costs \(order.amount)")
                #expect(payment?.captured == order.amount && payment?.refunded == 0 && payment?.status == "CAPTURED")
                for item in order.items { confirmedUnits[item.productId, default: 0] += item.quantity }
            }
            // No authorization left hanging on a customer's card.
            let hanging = (ledger.intents[order.id] ?? []).filter { $0.status == "requires_capture" }
            #expect(hanging.isEmpty, "order \(order.id): authorizations neither captured nor voided: \(hanging)")
        }
        print("PaymentChaosTests: \(counts), \(ledger.captured.values.reduce(0, +)) cents captured, \(ledger.refunded.values.reduce(0, +)) refunded")
        for product in catalogue.map(\.id) {
            let local = try system.stock(of: product)
            #expect(local.values.reduce(0, +) == 6000 - (confirmedUnits[product] ?? 0), "\(product): \(local), \(confirmedUnits[product] ?? 0) units confirmed of 6000")
            for (vendor, units) in local {
                #expect(try system.vendorStock(vendor, product) == units, "\(product) at \(vendor): the vendor's database agrees with ordersdb")
            }
        }
        let active = try OrderSystemFixture.database { connection in
            try connection.query(
                "SELECT count(*)::int FROM reservations WHERE order_id = ANY($1::uuid[]) AND status = 'ACTIVE'",
                [OrderSystemFixture.arrayParameter(ids.map(\.uuidString))]
            ).singleRow().decode(0, as: Int.self)
        }
        #expect(active == 0, "no hold left")
        let deadLettered = try await system.deadLettered()
        #expect(deadLettered.isEmpty, "nothing dead-lettered: \(deadLettered)")
    }
}
