import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import OrderAPI
import OrderCore
import OrderStore
import OrderWorker
import Postgres
import ServiceSupport
import TestSupport
import Testing

private let quietLogger = OrderCommandTests.logger
private let bearer = OrderCommandTests.shopBackend

/// Checkout holds (seed 001) and the sweeper that ends holds whose time ran out.
@Suite(.timeLimit(.minutes(3))) struct ReservationTests {
    @Test func aHoldTakesStockUntilReleasedAndIsAnsweredFromThen() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.product("hold", stock: ["vendorA": 3, "vendorB": 2])
            let app = try buildOrderAPI(configuration: system.apiConfiguration(), logger: quietLogger)
            try await app.test(.router) { client in
                let check = try await client.call(
                    .post, "/inventory/check-availability", headers: [.contentType: "application/json"],
                    body: OrderCommandTests.items([(product, 4), ("unknown-\(UUID())", 1)]))
                #expect(check.status == 200, "\(check.text)")
                #expect(check.json["available"] as? Bool == false, "the unknown product has none")
                let items = try #require(check.json["items"] as? [[String: Any]])
                #expect(items.first?["available"] as? Bool == true)
                #expect(items.first?["availableQuantity"] as? Int == 5)
                #expect(items.first?["requestedQuantity"] as? Int == 4)
                #expect(items.last?["availableQuantity"] as? Int == 0)

                let created = try await client.call(
                    .post, "/inventory/reservations", headers: bearer,
                    body: Array(#"{"items":[{"productId":"\#(product)","quantity":4}],"expiresIn":600}"#.utf8))
                #expect(created.status == 201, "\(created.text)")
                let id = try #require(created.json["reservationId"] as? String)
                #expect(created.headers[.location] == "/inventory/reservations/\(id)")
                #expect(created.json["status"] as? String == "ACTIVE")
                #expect((created.json["items"] as? [[String: Any]])?.first?["quantity"] as? Int == 4)
                let expiresAt = try #require(MessageCoding.parseDate(created.json["expiresAt"] as? String ?? ""))
                #expect(abs(expiresAt.timeIntervalSinceNow - 600) < 30)
                #expect(try system.stock(of: product) == ["vendorA": 0, "vendorB": 1], "held the way an order takes")

                let short = try await client.call(.post, "/inventory/reservations", headers: bearer, body: OrderCommandTests.items([(product, 2)]))
                #expect(short.status == 409)
                #expect(short.json["code"] as? String == "insufficient-stock")
                #expect((short.json["detail"] as? String)?.contains(product) == true)
                let after = try await client.call(.post, "/inventory/check-availability", headers: bearer, body: OrderCommandTests.items([(product, 2)]))
                #expect(after.json["available"] as? Bool == false)

                #expect(try await client.call(.get, "/inventory/reservations/\(id)").json["status"] as? String == "ACTIVE")
                let noToken = try await client.call(.delete, "/inventory/reservations/\(id)")
                #expect(noToken.status == 401)
                let released = try await client.call(.delete, "/inventory/reservations/\(id)", headers: bearer)
                #expect(released.status == 204, "\(released.text)")
                #expect(released.body.isEmpty)
                #expect(try system.stock(of: product) == ["vendorA": 3, "vendorB": 2])
                let shown = try await client.call(.get, "/inventory/reservations/\(id)")
                #expect(shown.json["status"] as? String == "RELEASED")
                #expect(shown.json["endedAt"] != nil)
                let twice = try await client.call(.delete, "/inventory/reservations/\(id)", headers: bearer)
                #expect(twice.status == 409)
                #expect(twice.json["code"] as? String == "reservation-ended")
                #expect((twice.json["detail"] as? String)?.contains("RELEASED") == true)
                #expect(try system.stock(of: product) == ["vendorA": 3, "vendorB": 2], "released once")
                #expect(try await client.call(.delete, "/inventory/reservations/\(UUID())", headers: bearer).status == 404)
                #expect(try await client.call(.get, "/inventory/reservations/\(UUID())").status == 404)

                let invalid = try await client.call(
                    .post, "/inventory/reservations", headers: bearer,
                    body: Array(#"{"items":[{"productId":"\#(product)","quantity":1}],"expiresIn":0}"#.utf8))
                #expect(invalid.status == 400)
                #expect((invalid.json["errors"] as? [[String: Any]])?.first?["field"] as? String == "expiresIn")
            }
            try OrderCommandTests.clearOutbox(system)
        }
    }

    /// Holds of 2 s: back in available stock soon after their deadline, the
    /// checkout hold EXPIRED and the order that waited on its hold CANCELLED
    /// with `reservation-expired`. Alone they come back within the sweeper's
    /// interval (1 s) plus 2 s; under the parallel suites a run once waited
    /// over 6 s, so the bound is loose: it still fails a sweeper that never runs.
    @Test func expiredHoldsComeBackAndTheirOrdersAreCancelled() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.product("expiring", stock: ["vendorA": 6, "vendorB": 4])
            let app = try buildOrderAPI(configuration: system.apiConfiguration(), logger: quietLogger)
            let holding = ContinuousClock.now
            let reservationId = try await app.test(.router) { client in
                let created = try await client.call(
                    .post, "/inventory/reservations", headers: bearer,
                    body: Array(#"{"items":[{"productId":"\#(product)","quantity":5}],"expiresIn":2}"#.utf8))
                #expect(created.status == 201, "\(created.text)")
                return try #require(UUID(uuidString: created.json["reservationId"] as? String ?? ""))
            }
            let orderId = try Self.reservedOrder(product: product, vendor: "vendorB", quantity: 3, seconds: 2)
            // Held, unless a loaded machine took 2 s to get here: then any test's sweeper may have ended them already.
            if ContinuousClock.now - holding < .milliseconds(1500) {
                #expect(try system.stock(of: product) == ["vendorA": 1, "vendorB": 1])
            }

            let expired = ContinuousClock.now + .seconds(2)
            let back = try await system.withWorker(["SWEEPER_INTERVAL_SECONDS": "1"]) { () async throws -> Duration? in
                while ContinuousClock.now < expired + .seconds(30) {
                    if try system.stock(of: product) == ["vendorA": 6, "vendorB": 4] { return ContinuousClock.now - expired }
                    try await Task.sleep(for: .milliseconds(100))
                }
                return nil
            }
            let delay = try #require(back, "the holds never came back")
            #expect(delay <= .seconds(20), "back \(delay) after the deadline")

            let reader = try buildOrderAPI(configuration: system.apiConfiguration(), logger: quietLogger)
            try await reader.test(.router) { client in
                let hold = try await client.call(.get, "/inventory/reservations/\(reservationId)")
                #expect(hold.json["status"] as? String == "EXPIRED")
                let order = try await client.call(.get, "/orders/\(orderId)")
                #expect(order.json["status"] as? String == "CANCELLED")
                #expect(order.json["reason"] as? String == OrderLifecycle.reservationExpiredReason)
                #expect(order.json["reservedUntil"] == nil)
                let history = try #require(try await client.call(.get, "/orders/\(orderId)/events").json["events"] as? [[String: Any]])
                #expect(history.map { $0["to"] as? String } == ["RESERVED", "CANCELLED"])
                #expect(history.last?["cause"] as? String == "reservation-expired")
                #expect(history.last?["actor"] as? String == "system")
            }
            try OrderCommandTests.clearOutbox(system)
        }
    }

    /// An order waiting on its hold, cancelled: the hold is released at once.
    @Test func aReservedOrderCancelledReleasesItsHold() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.product("reserved-cancel", stock: ["vendorA": 4])
            let orderId = try Self.reservedOrder(product: product, vendor: "vendorA", quantity: 3, seconds: 600)
            #expect(try system.stock(of: product) == ["vendorA": 1])
            let app = try buildOrderAPI(configuration: system.apiConfiguration(), logger: quietLogger)
            try await app.test(.router) { client in
                let reserved = try await client.call(.get, "/orders/\(orderId)")
                #expect(reserved.json["status"] as? String == "RESERVED")
                #expect(reserved.json["reservedUntil"] != nil)
                let holdId: UUID = try OrderSystemFixture.database {
                    try $0.query("SELECT id FROM reservations WHERE order_id = $1", [orderId]).first!.decode(0)
                }
                let direct = try await client.call(.delete, "/inventory/reservations/\(holdId)", headers: bearer)
                #expect(direct.status == 409, "an order's hold ends with the order")
                #expect(direct.json["code"] as? String == "reservation-belongs-to-order")
                let cancel = try await client.call(.post, "/orders/\(orderId)/cancel", headers: bearer)
                #expect(cancel.status == 200, "\(cancel.text)")
                #expect(cancel.json["status"] as? String == "CANCELLED")
                #expect(cancel.json["reservedUntil"] == nil)
                let kinds = (cancel.json["movements"] as? [[String: Any]] ?? []).map { "\($0["kind"] ?? "?") \($0["quantity"] ?? "?")" }
                #expect(kinds.sorted() == ["hold 3", "release 3"])
            }
            #expect(try system.stock(of: product) == ["vendorA": 4])
            let status: String = try OrderSystemFixture.database {
                try $0.query("SELECT status FROM reservations WHERE order_id = $1", [orderId]).first!.decode(0)
            }
            #expect(status == "RELEASED")
            try OrderCommandTests.clearOutbox(system)
        }
    }

    /// Two sweepers at once (two order-worker instances, and any other test's)
    /// end each hold once.
    @Test func twoSweepersEndEachHoldOnce() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.product("sweep-twice", stock: ["vendorA": 40])
            let routing = OutboxRouting(
                orderEvents: system.topology.orderEvents, vendorSyncQueue: system.topology.vendorSync.main, paymentsQueue: system.topology.payments.main,
                stockLevels: StockLevelPolicy(threshold: 5))
            try OrderSystemFixture.database { connection in
                for _ in 0..<20 {
                    _ = try Reservations.create(items: [OrderLine(productId: product, quantity: 2)], seconds: 1, routing: routing, on: connection)
                }
            }
            #expect(try system.stock(of: product) == ["vendorA": 0])
            try await Task.sleep(for: .milliseconds(1100))
            let pool = PostgresPool(configuration: try PostgresConfiguration(url: TestEnvironment.databaseURL), size: 4, logger: quietLogger)
            let settings = try ReservationSweeper.Settings(environment: EnvironmentConfiguration(["SWEEPER_BATCH": "3"]))
            let sweepers = (0..<2).map { _ in ReservationSweeper(database: pool, settings: settings, routing: routing, logger: quietLogger) }
            try await system.withServices([pool], logger: quietLogger) {
                async let first = sweepers[0].sweep()
                async let second = sweepers[1].sweep()
                _ = try await (first, second)
            }
            // Another test's order-worker may be sweeping too: a hold it has
            // locked is skipped here (SKIP LOCKED) and ended there.
            let deadline = ContinuousClock.now + .seconds(10)
            while try system.stock(of: product) != ["vendorA": 40], ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(try system.stock(of: product) == ["vendorA": 40])
            let releases: Int = try OrderSystemFixture.database {
                try $0.query("SELECT count(*)::int FROM stock_movements WHERE product_id = $1 AND kind = 'release'", [product]).first!.decode(0)
            }
            #expect(releases == 20, "one release per hold")
            try OrderCommandTests.clearOutbox(system)
        }
    }

    /// An order that waits on its hold (RESERVED, as the worker leaves an
    /// order with a payment): its row, history, reservation and hold
    /// movements, with the stock taken.
    static func reservedOrder(product: String, vendor: String, quantity: Int, seconds: Int) throws -> UUID {
        let orderId = UUID()
        let reservationId = UUID()
        try OrderSystemFixture.database { connection in
            try connection.withTransaction { connection in
                try connection.query(
                    "INSERT INTO orders (id, status, reserved_until) VALUES ($1, 'QUEUED', now() + make_interval(secs => $2))", [orderId, seconds])
                try connection.query("INSERT INTO order_lines (order_id, line_no, product_id, quantity) VALUES ($1, 1, $2, $3)", [orderId, product, quantity])
                guard case .transition(let transition) = OrderLifecycle.decide(.queued, .stockReserved) else { throw CancellationError() }
                try OrderHistory.record(transition, orderId: orderId, actor: .system, on: connection)
                try connection.query(
                    "INSERT INTO reservations (id, order_id, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))",
                    [reservationId, orderId, seconds])
                try connection.query(
                    """
                    INSERT INTO stock_movements (id, kind, status, order_id, line_no, reservation_id, vendor_id, product_id, quantity)
                    VALUES ($1, 'hold', 'LOCAL', $2, 1, $3, $4, $5, $6)
                    """, [UUID(), orderId, reservationId, vendor, product, quantity])
                try connection.query("UPDATE vendor_stock SET stock = stock - $3 WHERE product_id = $1 AND vendor_id = $2", [product, vendor, quantity])
            }
        }
        return orderId
    }
}
