import AMQP
import Foundation
import OrderCore
import OrderStore
import Postgres
import TestSupport
import Testing
import TextCodecs

/// The stock-movement ledger at the vendors: restocks applied once, stock-sync
/// that neither re-inflates nor deflates around unapplied movements and live
/// holds, and allocations a vendor refuses moved to another vendor.
@Suite(.timeLimit(.minutes(3))) struct VendorMovementTests {
    private func order(_ product: String, _ quantity: Int) -> OrderPlaced {
        OrderPlaced(orderId: UUID(), lines: [OrderLine(productId: product, quantity: quantity)], idempotencyKey: nil, acceptedAt: Date())
    }

    /// An order of one line the real worker confirmed (its allocations now wait in vendor_sync).
    private func confirmedOrder(_ system: OrderSystemFixture, _ product: String, _ quantity: Int) async throws -> OrderPlaced {
        let placed = order(product, quantity)
        try await system.publish(placed)
        let status = try await system.withWorker { try await system.waitForOrders([placed.orderId]) }[placed.orderId]
        try #require(status == "CONFIRMED")
        return placed
    }

    private func movementStatuses(_ orderId: UUID) throws -> [String: [String]] {
        try OrderSystemFixture.database { connection in
            var result: [String: [String]] = [:]
            for row in try connection.query(
                "SELECT kind, vendor_id, status FROM stock_movements WHERE order_id = $1 ORDER BY kind, vendor_id, created_at", [orderId]
            ).rows {
                result["\(try row.decode(0, as: String.self)) \(try row.decode(1, as: String.self))", default: []].append(try row.decode(2))
            }
            return result
        }
    }

    /// Waits until the order's movements at `vendor` left PENDING (a reallocation's new
    /// movements stay PENDING until the outbox relay sends them).
    private func waitForSettled(_ orderId: UUID, at vendor: String) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while try movementStatuses(orderId).contains(where: { $0.key.hasSuffix(" \(vendor)") && $0.value.contains("PENDING") }) {
            try #require(ContinuousClock.now < deadline, "\(vendor)'s movements of \(orderId) still PENDING")
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// The CONFIRMED order's status as a cancel records it (its stock is not touched here).
    private func recordCancel(_ orderId: UUID) throws {
        guard case .transition(let cancel) = OrderLifecycle.decide(.confirmed, .cancel(reason: "changed my mind")) else {
            throw CancellationError()
        }
        try OrderSystemFixture.database { connection in
            try connection.withTransaction { connection in
                _ = try connection.query("SELECT 1 FROM orders WHERE id = $1 FOR UPDATE", [orderId])
                try OrderHistory.record(cancel, orderId: orderId, actor: .customer, on: connection)
            }
        }
    }

    private func outbox(_ orderId: UUID) throws -> [(routingKey: String, messageId: String, type: String, body: String)] {
        try OrderSystemFixture.database { connection in
            try connection.query(
                "SELECT routing_key, message_id, type, body FROM outbox WHERE correlation_id = $1 ORDER BY id", [orderId.uuidString.lowercased()]
            ).rows.map { (try $0.decode(0), try $0.decode(1), try $0.decode(2), try $0.decode(3)) }
        }
    }

    private func deleteOutbox(_ orderId: UUID) throws {
        _ = try OrderSystemFixture.database { try $0.query("DELETE FROM outbox WHERE correlation_id = $1", [orderId.uuidString.lowercased()]) }
    }

    private func review(_ orderId: UUID) throws -> (required: Bool, reason: String?) {
        let details = try #require(try OrderSystemFixture.database { try OrderQueries.order(orderId, on: $0) })
        return (details.reviewRequired, details.reviewReason)
    }

    // MARK: The vendor's side, a window at a time

    @Test func aWindowAppliesAllocationsAndRestocksInOrderEachOnce() throws {
        let product = TestEnvironment.uniqueName("vm-window")
        let missing = TestEnvironment.uniqueName("vm-missing")
        let orderId = UUID()
        func movement(_ kind: VendorMovement.Kind, _ quantity: Int, of product: String, id: UUID = UUID()) -> VendorMovement {
            VendorMovement(movementId: id, kind: kind, orderId: orderId, vendorId: "vendorA", productId: product, quantity: quantity)
        }
        try OrderSystemFixture.vendorDatabase("vendorA") { connection in
            try connection.query("INSERT INTO products (id, name, stock) VALUES ($1, $1, 4)", [product])
            let allocationId = UUID(), restockId = UUID()
            let notYet = { (out: Int, wanted: Int) in
                VendorApplyResult.notYetAllocated(
                    reason: "vendor vendorA has \(out) of \(product) allocated to the order, not \(wanted) to restock")
            }
            let window = [
                movement(.allocate, 5, of: product),  // 4 cannot cover 5
                movement(.restock, 3, of: product),  // nothing of the order's is out at this vendor: it waits
                movement(.allocate, 2, of: product, id: allocationId),  // 2 left
                movement(.restock, 3, of: product),  // only 2 are out
                movement(.restock, 2, of: product, id: restockId),  // 4 again
                movement(.restock, 2, of: product, id: restockId),  // the same movement again
                movement(.restock, 1, of: missing),
            ]
            let results = try VendorStore.apply(window, on: connection)
            #expect(results == [
                .conflicted(reason: "vendor vendorA cannot cover 5 of \(product)"), notYet(0, 3), .applied, notYet(2, 3), .applied,
                .alreadyApplied, .conflicted(reason: "vendor vendorA has no product \(missing) to restock"),
            ])
            #expect(try VendorStore.stock(product, on: connection).first?.stock == 4)
            // Replayed as windows of one: every one is now applied or refused as before.
            let replayed = try window.map { try VendorStore.apply($0, on: connection) }
            #expect(replayed == [
                .conflicted(reason: "vendor vendorA cannot cover 5 of \(product)"), notYet(0, 3), .alreadyApplied, notYet(0, 3),
                .alreadyApplied, .alreadyApplied, .conflicted(reason: "vendor vendorA has no product \(missing) to restock"),
            ])
            #expect(try VendorStore.stock(product, on: connection).first?.stock == 4)
            let recorded = try connection.query(
                "SELECT kind, quantity FROM applied_movements WHERE product_id = $1 ORDER BY kind", [product]
            ).rows.map { "\(try $0.decode(0, as: String.self)) \(try $0.decode(1, as: Int.self))" }
            #expect(recorded == ["allocate 2", "restock 2"])
        }
    }

    // MARK: Through vendor-sync-worker

    @Test func aRestockRaisesTheVendorsStockOnceUnderRedeliveryAndReplay() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.vendorProduct("restock", stock: ["vendorA": 7])
            let placed = try await confirmedOrder(system, product, 3)
            let restocks = try system.restockAll(placed.orderId)
            let restock = try #require(restocks.first)
            #expect(restocks == [VendorMovement(
                movementId: restock.movementId, kind: .restock, orderId: placed.orderId, vendorId: "vendorA", productId: product, quantity: 3)])
            #expect(try system.stock(of: product) == ["vendorA": 7], "the units are back locally at once")

            let copies = Array(repeating: OrderSystemFixture.message(restock), count: 2)
            try await system.withVendorSync {
                // The order's allocation (published by the worker), then the restock twice: a redelivery.
                try await system.publish(copies, to: system.topology.vendorSync.main)
                #expect(try await system.waitForAllocationsSettled([placed.orderId]) == ["APPLIED": 2])
                // An operator's replay after it settled: only the vendor's record can refuse it.
                try await system.publish(copies, to: system.topology.vendorSync.main)
                try await system.waitUntilTaken(system.topology.vendorSync.main)
            }
            try await system.expectSettled(system.topology.vendorSync)
            #expect(try system.vendorStock("vendorA", product) == 7, "7 − 3 allocated + 3 restocked, each once")
            let kinds = try OrderSystemFixture.vendorDatabase("vendorA") { connection in
                try connection.query("SELECT kind, quantity FROM applied_movements WHERE product_id = $1 ORDER BY kind", [product]).rows
                    .map { "\(try $0.decode(0, as: String.self)) \(try $0.decode(1, as: Int.self))" }
            }
            #expect(kinds == ["allocate 3", "restock 3"])
            _ = try await system.stockSyncOnce()
            #expect(try system.stock(of: product) == ["vendorA": 7])
            #expect(try review(placed.orderId).required == false)
        }
    }

    @Test func aRestockOfAProductTheVendorDoesNotHaveConflictsAndFlagsTheOrder() async throws {
        try await OrderSystemFixture.with { system in
            // Stocked locally at both vendors, but vendorB's own database has no such product.
            let product = try system.product("restock-missing", stock: ["vendorA": 5, "vendorB": 0])
            _ = try OrderSystemFixture.vendorDatabase("vendorA") { try $0.query("INSERT INTO products (id, name, stock) VALUES ($1, $1, 5)", [product]) }
            let placed = try await confirmedOrder(system, product, 2)
            let restock = VendorMovement(movementId: UUID(), kind: .restock, orderId: placed.orderId, vendorId: "vendorB", productId: product, quantity: 2)
            try OrderSystemFixture.database { connection in
                try connection.withTransaction { try OrderSystemFixture.record([(1, restock)], on: $0) }
            }
            try await system.withVendorSync {
                try await system.publish([OrderSystemFixture.message(restock)], to: system.topology.vendorSync.main)
                _ = try await system.waitForAllocationsSettled([placed.orderId])
            }
            try await system.expectSettled(system.topology.vendorSync)
            #expect(try movementStatuses(placed.orderId) == ["allocate vendorA": ["APPLIED"], "restock vendorB": ["CONFLICTED"]])
            let flagged = try review(placed.orderId)
            #expect(flagged.required)
            #expect(flagged.reason == "vendor vendorB has no product \(product) to restock")
            #expect(try system.vendorStock("vendorB", product) == nil, "nothing created at the vendor")
            #expect(try outbox(placed.orderId).isEmpty, "a refused restock moves nothing")
        }
    }

    @Test func aRefusedAllocationMovesToAnotherVendorWithExactStockOnBothSides() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.vendorProduct("realloc", stock: ["vendorA": 5, "vendorB": 10])
            let placed = try await confirmedOrder(system, product, 4)
            #expect(try system.stock(of: product) == ["vendorA": 5, "vendorB": 6], "most available first: all 4 from vendorB")
            // vendorB sold 8 elsewhere before hearing of the allocation.
            _ = try OrderSystemFixture.vendorDatabase("vendorB") { try $0.query("UPDATE products SET stock = 2 WHERE id = $1", [product]) }

            try await system.withVendorSync { try await waitForSettled(placed.orderId, at: "vendorB") }
            try await system.expectSettled(system.topology.vendorSync)
            #expect(try movementStatuses(placed.orderId) == ["allocate vendorA": ["PENDING"], "allocate vendorB": ["CONFLICTED"]])
            // vendorB's local row is left to stock-sync (which other tests run at any moment).
            #expect(try system.stock(of: product)["vendorA"] == 1, "vendorA's 4 taken")
            #expect(try review(placed.orderId).required == false, "reallocated, not flagged")
            let details = try #require(try OrderSystemFixture.database { try OrderQueries.order(placed.orderId, on: $0) })
            #expect(details.status == .confirmed)

            // The new allocation's vendor_sync message waits in the outbox for the relay.
            let rows = try outbox(placed.orderId)
            try #require(rows.count == 1)
            let sent = try VendorMovement.decode(Array(rows[0].body.utf8))
            let newId = try OrderSystemFixture.database { connection in
                try connection.query(
                    "SELECT id FROM stock_movements WHERE order_id = $1 AND vendor_id = 'vendorA'", [placed.orderId]
                ).singleRow().decode(0, as: UUID.self)
            }
            #expect(sent == VendorMovement(movementId: newId, kind: .allocate, orderId: placed.orderId, vendorId: "vendorA", productId: product, quantity: 4))
            #expect(rows[0].routingKey == system.topology.vendorSync.main)
            #expect(rows[0].messageId == newId.uuidString.lowercased())
            #expect(rows[0].type == VendorMovement.messageType)
            try deleteOutbox(placed.orderId)

            // Published as the relay would, and applied: both vendors and ordersdb agree.
            try await system.withVendorSync {
                try await system.publish([OrderSystemFixture.message(sent)], to: system.topology.vendorSync.main)
                _ = try await system.waitForAllocationsSettled([placed.orderId])
            }
            #expect(try movementStatuses(placed.orderId) == ["allocate vendorA": ["APPLIED"], "allocate vendorB": ["CONFLICTED"]])
            #expect(try system.vendorStock("vendorA", product) == 1)
            #expect(try system.vendorStock("vendorB", product) == 2)
            _ = try await system.stockSyncOnce()
            #expect(try system.stock(of: product) == ["vendorA": 1, "vendorB": 2], "the refused allocation no longer offsets vendorB's figure")
        }
    }

    @Test func aRefusedAllocationNoOtherVendorCanCoverFlagsTheOrder() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.vendorProduct("realloc-none", stock: ["vendorA": 3, "vendorB": 6])
            let placed = try await confirmedOrder(system, product, 5)
            #expect(try system.stock(of: product) == ["vendorA": 3, "vendorB": 1])
            _ = try OrderSystemFixture.vendorDatabase("vendorB") { try $0.query("UPDATE products SET stock = 4 WHERE id = $1", [product]) }

            try await system.withVendorSync { _ = try await system.waitForAllocationsSettled([placed.orderId]) }
            try await system.expectSettled(system.topology.vendorSync)
            #expect(try movementStatuses(placed.orderId) == ["allocate vendorB": ["CONFLICTED"]])
            let flagged = try review(placed.orderId)
            #expect(flagged.required)
            #expect(flagged.reason == "vendor vendorB cannot cover 5 of \(product); no other vendor has 5 of \(product) to take it over")
            #expect(try system.stock(of: product)["vendorA"] == 3, "nothing taken from vendorA's 3")
            #expect(try outbox(placed.orderId).isEmpty)
        }
    }

    @Test func aRefusedAllocationOfACancelledOrderIsNotReallocated() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.vendorProduct("realloc-cancelled", stock: ["vendorA": 5, "vendorB": 10])
            let placed = try await confirmedOrder(system, product, 4)
            // Cancelled before vendorB heard of it (the status as the cancel records it).
            try recordCancel(placed.orderId)
            _ = try OrderSystemFixture.vendorDatabase("vendorB") { try $0.query("UPDATE products SET stock = 2 WHERE id = $1", [product]) }

            try await system.withVendorSync { try await waitForSettled(placed.orderId, at: "vendorB") }
            try await system.expectSettled(system.topology.vendorSync)
            #expect(try movementStatuses(placed.orderId) == ["allocate vendorB": ["CONFLICTED"]], "no allocation at vendorA")
            let flagged = try review(placed.orderId)
            #expect(flagged.required)
            #expect(flagged.reason == "vendor vendorB cannot cover 4 of \(product); not reallocated: the order is CANCELLED")
            #expect(try system.stock(of: product)["vendorA"] == 5)
            #expect(try outbox(placed.orderId).isEmpty)
        }
    }

    /// A cancel sends back the units of an allocation its vendor then refuses:
    /// the refusal voids that restock, and the vendor, which never gave the
    /// units up, never receives them.
    @Test func theRestockOfAnAllocationTheVendorRefusedIsVoid() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.vendorProduct("restock-void", stock: ["vendorB": 10])
            let placed = try await confirmedOrder(system, product, 4)
            try recordCancel(placed.orderId)
            let restock = try #require(try system.restockAll(placed.orderId).first)
            // vendorB sold most of it meanwhile: it will refuse the allocation of 4.
            _ = try OrderSystemFixture.vendorDatabase("vendorB") { try $0.query("UPDATE products SET stock = 2 WHERE id = $1", [product]) }
            try await system.withVendorSync {
                try await system.publish([OrderSystemFixture.message(restock)], to: system.topology.vendorSync.main)
                try await waitForSettled(placed.orderId, at: "vendorB")
                try await system.waitUntilTaken(system.topology.vendorSync.main)
            }
            try await system.expectSettled(system.topology.vendorSync)
            #expect(try movementStatuses(placed.orderId) == ["allocate vendorB": ["CONFLICTED"], "restock vendorB": ["CONFLICTED"]])
            #expect(try system.vendorStock("vendorB", product) == 2, "neither the allocation nor its restock reached vendorB")
            #expect(try review(placed.orderId).required == false, "nothing is left for an operator")
            // Locally 10 − 4 allocated + 4 restocked until a sync brings in vendorB's
            // own figure; the void restock is not held back from it (nor is the refused allocation).
            _ = try await system.stockSyncOnce()
            #expect(try system.stock(of: product) == ["vendorB": 2])
        }
    }

    /// A restock whose allocation never reaches its vendor waits through its
    /// retries, then goes to the DLQ still PENDING, and its order is flagged
    /// for an operator; the vendor is given nothing.
    @Test func aRestockWhoseAllocationNeverArrivesEndsInTheDLQWithItsOrderFlagged() async throws {
        try await OrderSystemFixture.with(retryDelayMilliseconds: 200) { system in
            let product = try system.vendorProduct("restock-stuck", stock: ["vendorA": 6])
            let placed = try await confirmedOrder(system, product, 2)
            // The allocation is lost on the way (an operator purged it, say).
            #expect(try await system.drain(system.topology.vendorSync.main).count == 1)
            try recordCancel(placed.orderId)
            let restock = try #require(try system.restockAll(placed.orderId).first)
            try await system.withVendorSync(["MAX_RETRIES": "2"]) { () async throws in
                try await system.publish([OrderSystemFixture.message(restock)], to: system.topology.vendorSync.main)
                #expect(try await system.waitForDepth(system.topology.vendorSync.deadLetter, atLeast: 1, timeout: .seconds(30)) == 1)
                try await Task.sleep(for: .milliseconds(300))
            }
            let dead = try await system.drain(system.topology.vendorSync.deadLetter)
            #expect(dead.first?.properties.headers["x-error-reason"]?.stringValue == "restock-ahead-of-allocation")
            #expect(try movementStatuses(placed.orderId) == ["allocate vendorA": ["PENDING"], "restock vendorA": ["PENDING"]])
            let flagged = try review(placed.orderId)
            #expect(flagged.required)
            #expect(flagged.reason?.contains("restock \(UUIDText.string(restock.movementId)) at vendorA is in the DLQ") == true, "\(flagged.reason ?? "")")
            #expect(try system.vendorStock("vendorA", product) == 6, "nothing given back that was never taken")
        }
    }

    // MARK: stock-sync

    @Test func stockSyncHoldsBackUnappliedMovementsAndLiveHoldsExactly() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.vendorProduct("ledger", stock: ["vendorA": 20])
            let orderId = UUID()
            let live = UUID(), expired = UUID(), consumed = UUID()
            func movement(_ kind: VendorMovement.Kind, _ quantity: Int) -> VendorMovement {
                VendorMovement(movementId: UUID(), kind: kind, orderId: orderId, vendorId: "vendorA", productId: product, quantity: quantity)
            }
            let a1 = movement(.allocate, 4), a2 = movement(.allocate, 3), a3 = movement(.allocate, 2)
            let r1 = movement(.restock, 2), r2 = movement(.restock, 1)
            try OrderSystemFixture.database { connection in
                try connection.withTransaction { connection in
                    try connection.query("INSERT INTO orders (id, status, queued_at) VALUES ($1, 'CONFIRMED', now())", [orderId])
                    try connection.query("INSERT INTO order_lines (order_id, line_no, product_id, quantity) VALUES ($1, 1, $2, 9)", [orderId, product])
                    for vendorBound in [a1, a2, a3, r1, r2] {
                        try connection.query(
                            """
                            INSERT INTO stock_movements (id, kind, status, order_id, line_no, vendor_id, product_id, quantity)
                            VALUES ($1, $2, 'PENDING', $3, 1, 'vendorA', $4, $5)
                            """, [vendorBound.movementId, vendorBound.kind.rawValue, orderId, product, vendorBound.quantity])
                    }
                    // A live hold of 5, an expired one of 6 and a consumed one of 2, each ended by its release.
                    for (id, status, held) in [(live, "ACTIVE", 5), (expired, "EXPIRED", 6), (consumed, "CONSUMED", 2)] {
                        try connection.query(
                            """
                            INSERT INTO reservations (id, status, expires_at, ended_at)
                            VALUES ($1, $2, now() + interval '1 hour', CASE WHEN $2 = 'ACTIVE' THEN NULL ELSE now() END)
                            """, [id, status])
                        try connection.query(
                            """
                            INSERT INTO stock_movements (id, kind, status, reservation_id, vendor_id, product_id, quantity)
                            SELECT gen_random_uuid(), k, 'LOCAL', $1, 'vendorA', $2, $3
                            FROM unnest(CASE WHEN $4 THEN ARRAY['hold'] ELSE ARRAY['hold', 'release'] END) AS k
                            """, [id, product, held, status == "ACTIVE"])
                    }
                    // The ledger's figure: 20 − Σallocate 9 − Σhold 13 + Σrelease 8 + Σrestock 3.
                    try connection.query("UPDATE vendor_stock SET stock = 9 WHERE product_id = $1 AND vendor_id = 'vendorA'", [product])
                }
            }
            // The vendor applied a1 and r2 (ordersdb not told yet): 20 − 4 + 1.
            let first = try OrderSystemFixture.vendorDatabase("vendorA") { try VendorStore.apply([a1, r2], on: $0) }
            #expect(first == [.applied, .applied])
            #expect(try system.vendorStock("vendorA", product) == 17)

            // 17 − (a2 3 + a3 2 − r1 2 unapplied) − 5 held.
            _ = try await system.stockSyncOnce()
            #expect(try system.stock(of: product) == ["vendorA": 9], "neither re-inflated nor deflated")

            // The vendor applies the rest and ordersdb hears of all of it: 17 − 3 − 2 + 2 = 14, 5 still held.
            let rest = try OrderSystemFixture.vendorDatabase("vendorA") { try VendorStore.apply([a2, a3, r1], on: $0) }
            #expect(rest == [.applied, .applied, .applied])
            _ = try OrderSystemFixture.database { try MovementStore.markApplied([a1, a2, a3, r1, r2].map(\.movementId), on: $0) }
            _ = try await system.stockSyncOnce()
            #expect(try system.stock(of: product) == ["vendorA": 9])

            // The vendor sold 12 elsewhere: 2 left, 5 held, so the figure would be −3.
            _ = try OrderSystemFixture.vendorDatabase("vendorA") { try $0.query("UPDATE products SET stock = 2 WHERE id = $1", [product]) }
            let short = try await system.stockSyncOnce()
            #expect(try system.stock(of: product) == ["vendorA": 0])
            #expect(short.synced.first { $0.vendor == "vendorA" }?.shortfall[product] == 3)

            // The hold ends (as a release writes it): its 5 come back, and a sync keeps them.
            try OrderSystemFixture.database { connection in
                try connection.withTransaction { connection in
                    try connection.query("UPDATE reservations SET status = 'RELEASED', ended_at = now() WHERE id = $1", [live])
                    try connection.query(
                        "INSERT INTO stock_movements (id, kind, status, reservation_id, vendor_id, product_id, quantity) VALUES (gen_random_uuid(), 'release', 'LOCAL', $1, 'vendorA', $2, 5)",
                        [live, product])
                    try connection.query("UPDATE vendor_stock SET stock = stock + 5 WHERE product_id = $1 AND vendor_id = 'vendorA'", [product])
                }
            }
            _ = try await system.stockSyncOnce()
            #expect(try system.stock(of: product) == ["vendorA": 2], "the vendor's own figure once nothing is held or unapplied")
        }
    }
}
