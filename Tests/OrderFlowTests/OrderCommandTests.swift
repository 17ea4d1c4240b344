import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import OrderAPI
import OrderCore
import OrderStore
import Postgres
import ServiceSupport
import TestSupport
import Testing

private let quietLogger = OrderCommandTests.logger
private let bearer = OrderCommandTests.shopBackend

/// The order lifecycle through order-api: QUEUED from the 202 on, cancel and
/// returns with the stock they give back, who may ask for them, and the
/// history they leave (issue 13).
@Suite(.timeLimit(.minutes(3))) struct OrderCommandTests {
    static let logger: Logger = {
        var logger = Logger(label: "test-order-commands")
        logger.logLevel = .error
        return logger
    }()

    /// The shop backend's authorization, with a JSON body.
    static let shopBackend: HTTPFields = [.authorization: "Bearer \(TestEnvironment.apiToken)", .contentType: "application/json"]

    /// With no worker running, the Location of a 202 reads QUEUED at once,
    /// keyed or not; an id the API did not issue is a 404, as before.
    @Test func anAcceptedOrderReadsQueuedRightAfterThe202WithNoWorker() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.product("queued", stock: ["vendorA": 5])
            let app = try buildOrderAPI(configuration: system.apiConfiguration(), logger: quietLogger)
            try await app.test(.router) { client in
                for key in [nil, "checkout-\(UUID())"] {
                    let accepted = try await client.postOrderUntilAnswered(#"{"productId":"\#(product)","quantity":1}"#, key: key)
                    #expect(accepted.status == 202)
                    let location = try #require(accepted.headers[.location])
                    let order = try await client.call(.get, location)
                    #expect(order.status == 200, "\(order.text)")
                    #expect(order.json["status"] as? String == "QUEUED")
                    #expect(order.json["orderId"] as? String == accepted.json["orderId"] as? String)
                    let events = try await client.call(.get, location + "/events")
                    #expect(events.status == 200)
                    #expect((events.json["events"] as? [Any])?.isEmpty == true)
                }
                let forged = try await client.call(.get, "/orders/\(Self.forgedId())")
                #expect(forged.status == 404)
                #expect(forged.json["code"] as? String == "order-not-found")
                #expect(try await client.call(.get, "/orders/\(UUID())/events").status == 404)
            }
            #expect(try await system.depth(system.topology.orders.main) == 2, "both orders wait in the queue")
        }
    }

    /// A cancel that reaches a QUEUED order first: the row is created
    /// CANCELLED, and the worker then finds it so and takes nothing.
    /// Cancelling again is the same cancellation.
    @Test func aQueuedOrderCancelledBeforeTheWorkerTakesNothing() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.product("cancel-queued", stock: ["vendorA": 10])
            let app = try buildOrderAPI(configuration: system.apiConfiguration(), logger: quietLogger)
            try await app.test(.router) { client in
                let accepted = try await client.postOrderUntilAnswered(#"{"productId":"\#(product)","quantity":3}"#)
                let location = try #require(accepted.headers[.location])
                let id = try #require(UUID(uuidString: accepted.json["orderId"] as? String ?? ""))
                for (body, field) in [(#"{"reason":5}"#, "reason"), (#"{"actor":"system"}"#, "actor"), (#"{"why":"x"}"#, "why")] {
                    let invalid = try await client.call(.post, location + "/cancel", headers: bearer, body: Array(body.utf8))
                    #expect(invalid.status == 400, "\(body)")
                    #expect((invalid.json["errors"] as? [[String: Any]])?.first?["field"] as? String == field, "\(body)")
                }
                #expect(try await client.call(.get, location).json["status"] as? String == "QUEUED", "an invalid cancel changes nothing")
                var headers = bearer
                headers[HTTPField.Name("Idempotency-Key")!] = "cancel-\(id)"
                let cancel = try await client.call(.post, location + "/cancel", headers: headers, body: Array(#"{"reason":"changed my mind"}"#.utf8))
                #expect(cancel.status == 200, "\(cancel.text)")
                #expect(cancel.json["status"] as? String == "CANCELLED")
                #expect(cancel.json["reason"] as? String == "changed my mind")
                let again = try await client.call(.post, location + "/cancel", headers: headers, body: Array(#"{"reason":"changed my mind"}"#.utf8))
                #expect(again.status == 200)
                #expect(again.body == cancel.body, "the same key, the same answer")
                let withoutBody = try await client.call(.post, location + "/cancel", headers: [.authorization: "Bearer \(TestEnvironment.apiToken)"])
                #expect(withoutBody.json["status"] as? String == "CANCELLED")
                #expect(try Self.outboxTypes(correlatedWith: id.uuidString.lowercased()) == ["order.cancelled.v1"], "one event, written with the cancel")

                let probe = try await system.eventProbe("cancel-queued")
                let published = try await system.withWorker {
                    try await system.waitUntilTaken(system.topology.orders.main)
                    return try await system.receiveEvents(on: probe, for: [id])
                }
                // The relay published it; the worker, finding the order already decided, re-published its history (the same event).
                #expect(Set(published.map(\.routingKey)) == ["order.cancelled"])
                #expect(Set(published.map(\.eventId)).count == 1, "one event, however often published")
                let after = try await client.call(.get, location)
                #expect(after.json["status"] as? String == "CANCELLED")
                #expect((after.json["movements"] as? [Any])?.isEmpty == true)
                let events = try await client.call(.get, location + "/events")
                let history = try #require(events.json["events"] as? [[String: Any]])
                #expect(history.count == 1, "one cancellation: \(events.text)")
                #expect(history.first?["from"] as? String == "QUEUED")
                #expect(history.first?["to"] as? String == "CANCELLED")
                #expect(history.first?["actor"] as? String == "customer")
                #expect(history.first?["sequence"] as? Int == 1)
            }
            #expect(try system.stock(of: product) == ["vendorA": 10])
            try Self.clearOutbox(system)
        }
    }

    /// A CONFIRMED order cancelled: local stock restored, one restock per
    /// allocation (PENDING, for vendor-sync) and its vendor_sync message and
    /// the order's events in the outbox, written in the same transaction.
    @Test func aConfirmedOrderCancelledGivesItsStockBackAndTellsEachVendor() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.product("cancel-confirmed", stock: ["vendorA": 3, "vendorB": 3])
            let app = try buildOrderAPI(configuration: system.apiConfiguration(), logger: quietLogger)
            try await app.test(.router) { client in
                let accepted = try await client.postOrderUntilAnswered(#"{"productId":"\#(product)","quantity":5}"#)
                let location = try #require(accepted.headers[.location])
                let id = try #require(UUID(uuidString: accepted.json["orderId"] as? String ?? ""))
                try await system.withWorker { _ = try await system.waitForOrders([id]) }
                #expect(try system.stock(of: product) == ["vendorA": 0, "vendorB": 1])

                let cancel = try await client.call(.post, location + "/cancel", headers: bearer, body: Array(#"{"actor":"operator"}"#.utf8))
                #expect(cancel.status == 200, "\(cancel.text)")
                #expect(cancel.json["status"] as? String == "CANCELLED")
                #expect(try system.stock(of: product) == ["vendorA": 3, "vendorB": 3])
                let movements = try #require(cancel.json["movements"] as? [[String: Any]])
                let restocks = movements.filter { $0["kind"] as? String == "restock" }
                #expect(Self.split(restocks) == ["vendorA": 3, "vendorB": 2])
                #expect(restocks.allSatisfy { $0["status"] as? String == "PENDING" })
                #expect(Self.split(movements.filter { $0["kind"] as? String == "allocate" }) == ["vendorA": 3, "vendorB": 2])

                let outbox = try Self.outbox(correlatedWith: id.uuidString.lowercased())
                let vendorMessages = outbox.filter { $0.type == VendorMovement.messageType }
                #expect(vendorMessages.map(\.routingKey) == [system.topology.vendorSync.main, system.topology.vendorSync.main])
                #expect(Set(vendorMessages.map(\.messageId)) == Set(restocks.compactMap { $0["movementId"] as? String }))
                for message in vendorMessages {
                    let decoded = try VendorMovement.decode(Array(message.body.utf8))
                    #expect(decoded.kind == .restock && decoded.orderId == id)
                }
                let events = outbox.filter { $0.type.hasPrefix("order.") }
                #expect(events.last?.type == "order.cancelled.v1")
                #expect(events.allSatisfy { $0.exchange == system.topology.orderEvents })
                let history = try #require(try await client.call(.get, location + "/events").json["events"] as? [[String: Any]])
                #expect(history.last?["to"] as? String == "CANCELLED")
                #expect(history.last?["actor"] as? String == "operator")
                #expect(events.count == history.count, "the whole history is re-published")

                let again = try await client.call(.post, location + "/cancel", headers: bearer)
                #expect(again.status == 200)
                #expect(try system.stock(of: product) == ["vendorA": 3, "vendorB": 3], "cancelling twice restocks once")
            }
            try Self.clearOutbox(system)
        }
    }

    /// Cancels racing the worker's decision, order by order: each order ends
    /// either cancelled while QUEUED (no movement at all) or confirmed and
    /// then cancelled (each allocation restocked once), never both or
    /// neither; the stock is whole again either way.
    @Test func aCancelRacingTheWorkerEndsOneWayOrTheOther() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.product("race", stock: ["vendorA": 50, "vendorB": 50])
            let app = try buildOrderAPI(configuration: system.apiConfiguration(), logger: quietLogger)
            let orders = try await app.test(.router) { client in
                try await system.withWorker(["WORKER_LINGER_MS": "0"]) {
                    var orders: [(id: UUID, cancel: HTTPResult)] = []
                    for round in 0..<30 {
                        let accepted = try await client.postOrderUntilAnswered(#"{"productId":"\#(product)","quantity":\#(1 + round % 3)}"#)
                        let location = try #require(accepted.headers[.location])
                        if round % 2 == 1 { try await Task.sleep(for: .milliseconds(round % 7 * 5)) }
                        let cancel = try await client.call(.post, location + "/cancel", headers: bearer)
                        orders.append((try #require(UUID(uuidString: accepted.json["orderId"] as? String ?? "")), cancel))
                    }
                    try await system.waitUntilTaken(system.topology.orders.main)
                    return orders
                }
            }
            var outcomes: [String: Int] = [:]
            for (id, cancel) in orders {
                #expect(cancel.status == 200, "\(cancel.text)")
                let (status, allocated, restocked, history) = try OrderSystemFixture.database { connection in
                    let status: String = try connection.query("SELECT status FROM orders WHERE id = $1", [id]).first!.decode(0)
                    let sums = try connection.query(
                        """
                        SELECT coalesce(sum(quantity) FILTER (WHERE kind = 'allocate'), 0)::int, coalesce(sum(quantity) FILTER (WHERE kind = 'restock'), 0)::int
                        FROM stock_movements WHERE order_id = $1
                        """, [id]
                    ).first!
                    return (status, try sums.decode(0, as: Int.self), try sums.decode(1, as: Int.self), try OrderHistory.transitions(of: id, on: connection))
                }
                #expect(status == "CANCELLED")
                #expect(history.last?.to == .cancelled)
                #expect(history.filter { $0.to == .cancelled }.count == 1, "cancelled once")
                if history.last?.from == .queued {
                    #expect(allocated == 0 && restocked == 0, "cancelled while QUEUED: took nothing")
                    outcomes["cancelled while queued", default: 0] += 1
                } else {
                    #expect(history.last?.from == .confirmed)
                    #expect(allocated > 0 && restocked == allocated, "confirmed, then every unit restocked once")
                    outcomes["confirmed then cancelled", default: 0] += 1
                }
            }
            #expect(outcomes.values.reduce(0, +) == 30, "\(outcomes)")
            #expect(try system.stock(of: product) == ["vendorA": 50, "vendorB": 50])
            try Self.clearOutbox(system)
        }
    }

    /// No token, a wrong token, a guessed or forged id: 401 or 404, the same
    /// body for both 401s, and not one row changed. Without API_TOKEN the
    /// commands are refused outright.
    @Test func aGuessedIdAWrongTokenOrNoTokenChangesNothing() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.product("guarded", stock: ["vendorA": 10])
            let app = try buildOrderAPI(configuration: system.apiConfiguration(), logger: quietLogger)
            try await app.test(.router) { client in
                let accepted = try await client.postOrderUntilAnswered(#"{"productId":"\#(product)","quantity":2}"#, key: "checkout-42-\(UUID())")
                let id = try #require(UUID(uuidString: accepted.json["orderId"] as? String ?? ""))
                try await system.withWorker { _ = try await system.waitForOrders([id]) }
                let before = try Self.snapshot(order: id, product: product)
                let json: HTTPFields = [.contentType: "application/json"]
                let returns = Array(#"{"items":[{"productId":"\#(product)","quantity":1}]}"#.utf8)
                var refusals: [HTTPResult] = []
                for path in ["/orders/\(id)/cancel", "/orders/\(Self.forgedId())/cancel", "/orders/\(id)/returns"] {
                    for headers in [json, json.merging([.authorization: "Bearer wrong-\(TestEnvironment.apiToken)"]), json.merging([.authorization: "Basic Zm9vOmJhcg=="])] {
                        let response = try await client.call(.post, path, headers: headers, body: returns)
                        #expect(response.status == 401, "\(path): \(response.text)")
                        #expect(response.headers[.wwwAuthenticate] == #"Bearer realm="order-api""#)
                        refusals.append(response)
                    }
                }
                #expect(Set(refusals.map(\.body)).count == 1, "a missing and a wrong token are told apart by nothing")
                for guessed in [UUID(), Self.forgedId(), OrderID.forTests.make(randomness: UUID())] {
                    let cancel = try await client.call(.post, "/orders/\(guessed)/cancel", headers: bearer)
                    #expect(cancel.status == 404, "\(guessed): \(cancel.text)")
                    #expect(cancel.json["code"] as? String == "order-not-found")
                    #expect(try Self.snapshot(order: guessed, product: product).order == nil, "no row for \(guessed)")
                }
                let reservation = try await client.call(
                    .post, "/inventory/reservations", headers: json, body: Array(#"{"items":[{"productId":"\#(product)","quantity":1}]}"#.utf8))
                #expect(reservation.status == 401)
                #expect(try Self.snapshot(order: id, product: product) == before)
            }

            var environment = system.environment
            environment["API_TOKEN"] = nil
            let disabled = try buildOrderAPI(
                configuration: OrderAPIConfiguration(environment: EnvironmentConfiguration(environment)), logger: quietLogger)
            try await disabled.test(.router) { client in
                let response = try await client.call(.post, "/orders/\(UUID())/cancel", headers: bearer)
                #expect(response.status == 403)
                #expect(response.json["code"] as? String == "commands-disabled")
            }
        }
    }

    /// Shipped: no cancel, but returns, restocked at the vendors the units
    /// came from (line order, then vendor order), never more than was bought.
    @Test func aDeliveredOrderIsReturnedInPartsAndNeverBeyondWhatWasBought() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.product("returns", stock: ["vendorA": 3, "vendorB": 3])
            let other = try system.product("returns-other", stock: ["vendorB": 4])
            let app = try buildOrderAPI(configuration: system.apiConfiguration(), logger: quietLogger)
            try await app.test(.router) { client in
                let accepted = try await client.postOrderUntilAnswered(
                    #"{"items":[{"productId":"\#(product)","quantity":5},{"productId":"\#(other)","quantity":2}]}"#)
                let location = try #require(accepted.headers[.location])
                let id = try #require(UUID(uuidString: accepted.json["orderId"] as? String ?? ""))
                try await system.withWorker { _ = try await system.waitForOrders([id]) }

                let early = try await client.call(.post, location + "/returns", headers: bearer, body: Self.items([(product, 1)]))
                #expect(early.status == 409)
                #expect(early.json["code"] as? String == "order-not-returnable")

                try Self.advance(id, through: [.shipped, .delivered])
                let cancel = try await client.call(.post, location + "/cancel", headers: bearer)
                #expect(cancel.status == 409)
                #expect(cancel.json["code"] as? String == "order-not-cancellable")
                #expect((cancel.json["detail"] as? String)?.contains("DELIVERED") == true)

                let tooMany = try await client.call(.post, location + "/returns", headers: bearer, body: Self.items([(product, 6)]))
                #expect(tooMany.status == 422)
                #expect(tooMany.json["code"] as? String == "return-exceeds-purchase")
                let notBought = try await client.call(.post, location + "/returns", headers: bearer, body: Self.items([("nothing-\(UUID())", 1)]))
                #expect(notBought.status == 422)

                var keyed = bearer
                keyed[HTTPField.Name("Idempotency-Key")!] = "return-\(id)"
                let first = try await client.call(.post, location + "/returns", headers: keyed, body: Self.items([(product, 4)]))
                #expect(first.status == 200, "\(first.text)")
                #expect(first.json["status"] as? String == "RETURNED")
                #expect(Self.returned(first) == [product: 4, other: 0])
                #expect(try system.stock(of: product) == ["vendorA": 3, "vendorB": 2], "vendorA's 3 first, then 1 of vendorB's 2")
                // A retry of that return (its answer was lost) restocks nothing more; the key with other items is refused.
                let retry = try await client.call(.post, location + "/returns", headers: keyed, body: Self.items([(product, 4)]))
                #expect(retry.status == 200, "\(retry.text)")
                #expect(Self.returned(retry) == [product: 4, other: 0])
                #expect(try system.stock(of: product) == ["vendorA": 3, "vendorB": 2])
                let reused = try await client.call(.post, location + "/returns", headers: keyed, body: Self.items([(product, 1)]))
                #expect(reused.status == 422)
                #expect(reused.json["code"] as? String == "idempotency-key-reused")
                let overTheRest = try await client.call(.post, location + "/returns", headers: bearer, body: Self.items([(product, 2)]))
                #expect(overTheRest.status == 422)
                let rest = try await client.call(
                    .post, location + "/returns", headers: bearer, body: Self.items([(product, 1), (other, 2)]))
                #expect(rest.status == 200, "\(rest.text)")
                #expect(Self.returned(rest) == [product: 5, other: 2])
                #expect(try system.stock(of: product) == ["vendorA": 3, "vendorB": 3])
                #expect(try system.stock(of: other) == ["vendorB": 4])
                let restocks = try #require(rest.json["movements"] as? [[String: Any]]).filter { $0["kind"] as? String == "restock" }
                #expect(restocks.count == 4)

                let history = try #require(try await client.call(.get, location + "/events").json["events"] as? [[String: Any]])
                #expect(history.suffix(4).map { $0["to"] as? String } == ["SHIPPED", "DELIVERED", "RETURNED", "RETURNED"])
                #expect(history.map { $0["sequence"] as? Int } == Array(1...history.count).map { $0 })
                // One vendor_sync message per vendor per transaction: the first return's A and B, the rest's two B movements in one batch.
                let vendorMessages = try Self.outbox(correlatedWith: id.uuidString.lowercased()).filter {
                    $0.type == VendorMovement.messageType || $0.type == VendorMovementBatch.messageType
                }
                #expect(vendorMessages.map(\.type) == [VendorMovement.messageType, VendorMovement.messageType, VendorMovementBatch.messageType])
                let told = try OrderSystemFixture.movements(in: vendorMessages.map { Array($0.body.utf8) })
                #expect(told.count == 4 && told.allSatisfy { $0.kind == .restock && $0.orderId == id })
            }
            try Self.clearOutbox(system)
        }
    }

    /// A delivered line whose allocation its vendor refused and nobody took
    /// over (the order flagged for review) has no vendor to restock at: its
    /// return is refused and changes nothing.
    @Test func aReturnOfUnitsNoVendorHoldsIsRefused() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.product("return-refused", stock: ["vendorA": 5])
            let app = try buildOrderAPI(configuration: system.apiConfiguration(), logger: quietLogger)
            try await app.test(.router) { client in
                let accepted = try await client.postOrderUntilAnswered(#"{"productId":"\#(product)","quantity":2}"#)
                let location = try #require(accepted.headers[.location])
                let id = try #require(UUID(uuidString: accepted.json["orderId"] as? String ?? ""))
                try await system.withWorker { _ = try await system.waitForOrders([id]) }
                _ = try OrderSystemFixture.database { try $0.query("UPDATE stock_movements SET status = 'CONFLICTED' WHERE order_id = $1", [id]) }
                try Self.advance(id, through: [.shipped, .delivered])
                let stock = try system.stock(of: product)
                let refused = try await client.call(.post, location + "/returns", headers: bearer, body: Self.items([(product, 1)]))
                #expect(refused.status == 409, "\(refused.text)")
                #expect(refused.json["code"] as? String == "return-not-restockable")
                let after = try await client.call(.get, location)
                #expect(after.json["status"] as? String == "DELIVERED")
                #expect(Self.returned(after) == [product: 0])
                #expect(try system.stock(of: product) == stock, "nothing restocked")
            }
            try Self.clearOutbox(system)
        }
    }

    /// A known path with a method it does not take is a 405 with Allow,
    /// TRACE too.
    @Test func otherMethodsOnTheNewPathsAre405WithAllow() async throws {
        try await OrderSystemFixture.with { system in
            let app = try buildOrderAPI(configuration: system.apiConfiguration(), logger: quietLogger)
            try await app.test(.router) { client in
                for (method, path, allow) in [
                    (HTTPRequest.Method.trace, "/orders", "POST, OPTIONS"),
                    (.trace, "/orders/\(UUID())", "GET, HEAD, OPTIONS"),
                    (.get, "/orders/\(UUID())/cancel", "POST, OPTIONS"),
                    (.put, "/orders/\(UUID())/events", "GET, HEAD, OPTIONS"),
                    (.get, "/inventory/reservations", "POST, OPTIONS"),
                    (.post, "/inventory/reservations/\(UUID())", "GET, HEAD, DELETE, OPTIONS"),
                ] {
                    let response = try await client.call(method, path)
                    #expect(response.status == 405, "\(method) \(path)")
                    #expect(response.headers[.allow] == allow, "\(method) \(path)")
                }
            }
            // Over a real connection too (TRACE reaches the router like any method).
            let served = try buildOrderAPI(configuration: system.apiConfiguration(), logger: quietLogger)
            try await served.test(.live) { client in
                let trace = try await client.call(.trace, "/orders")
                #expect(trace.status == 405)
                #expect(trace.headers[.allow] == "POST, OPTIONS")
            }
        }
    }

    /// order-api does not start without a usable secret, and says which variable.
    @Test func orderAPIRefusesToStartWithoutAnOrderIdSecret() throws {
        for (secret, message) in [(nil, "ORDER_ID_SECRET is required"), ("short", "ORDER_ID_SECRET must be at least 16 bytes, got 5")] {
            var environment = TestEnvironment.processEnvironment
            environment["ORDER_ID_SECRET"] = secret
            #expect {
                try OrderAPIConfiguration(environment: EnvironmentConfiguration(environment))
            } throws: { error in
                "\(error)".hasPrefix("configuration: \(message)")
            }
        }
    }

    // MARK: Helpers

    /// A version 8 id with a made-up tag: the shape of the API's ids, not one of them.
    static func forgedId() -> UUID {
        var bytes = UUID().uuid
        bytes.6 = (bytes.6 & 0x0F) | 0x80
        return UUID(uuid: bytes)
    }

    static func items(_ items: [(String, Int)]) -> [UInt8] {
        Array(#"{"items":[\#(items.map { #"{"productId":"\#($0.0)","quantity":\#($0.1)}"# }.joined(separator: ","))]}"#.utf8)
    }

    /// Units per vendor of some movements from an order's JSON.
    static func split(_ movements: [[String: Any]]) -> [String: Int] {
        Dictionary(movements.map { ($0["vendorId"] as? String ?? "?", $0["quantity"] as? Int ?? 0) }, uniquingKeysWith: +)
    }

    static func returned(_ order: HTTPResult) -> [String: Int] {
        Dictionary((order.json["lines"] as? [[String: Any]] ?? []).map {
            ($0["productId"] as? String ?? "?", $0["returnedQuantity"] as? Int ?? -1)
        }, uniquingKeysWith: +)
    }

    /// Moves the order on through the state machine, as the warehouse will.
    static func advance(_ id: UUID, through events: [OrderEvent]) throws {
        try OrderSystemFixture.database { connection in
            for event in events {
                try connection.withTransaction { connection in
                    let status: String = try #require(try connection.query("SELECT status FROM orders WHERE id = $1 FOR UPDATE", [id]).first).decode(0)
                    guard case .transition(let transition) = OrderLifecycle.decide(try #require(OrderState(rawValue: status)), event) else {
                        Issue.record("\(event) does not apply to \(status)")
                        return
                    }
                    try OrderHistory.record(transition, orderId: id, actor: .operator, on: connection)
                }
            }
        }
    }

    struct Snapshot: Equatable {
        let order: [String]?
        let movements: Int
        let stock: [String: Int]
    }

    /// The order's row, its movement count and the product's stock.
    static func snapshot(order id: UUID, product: String) throws -> Snapshot {
        try OrderSystemFixture.database { connection in
            let row = try connection.query("SELECT status, coalesce(reason, ''), last_seq::text, updated_at::text FROM orders WHERE id = $1", [id]).first
            let movements: Int = try connection.query("SELECT count(*)::int FROM stock_movements WHERE order_id = $1", [id]).first!.decode(0)
            return Snapshot(
                order: try row.map { row in try (0..<4).map { try row.decode($0, as: String.self) } }, movements: movements,
                stock: try TestEnvironment.stock(of: product))
        }
    }

    struct OutboxRow {
        let exchange: String
        let routingKey: String
        let messageId: String
        let type: String
        let body: String
    }

    static func outbox(correlatedWith correlationId: String) throws -> [OutboxRow] {
        try OrderSystemFixture.database { connection in
            try connection.query(
                "SELECT exchange, routing_key, message_id, type, body FROM outbox WHERE correlation_id = $1 ORDER BY id", [correlationId]
            ).rows.map {
                OutboxRow(exchange: try $0.decode(0), routingKey: try $0.decode(1), messageId: try $0.decode(2), type: try $0.decode(3), body: try $0.decode(4))
            }
        }
    }

    static func outboxTypes(correlatedWith correlationId: String) throws -> [String] {
        try outbox(correlatedWith: correlationId).map(\.type)
    }

    /// Takes the rows this test's services wrote out of the shared outbox
    /// (no relay publishes them to a topology that is gone with the test):
    /// whatever names its exchange or its vendor_sync queue.
    static func clearOutbox(_ system: OrderSystemFixture) throws {
        _ = try OrderSystemFixture.database { connection in
            try connection.query(
                "DELETE FROM outbox WHERE exchange = $1 OR routing_key = $2", [system.topology.orderEvents, system.topology.vendorSync.main])
        }
    }
}

extension HTTPFields {
    func merging(_ other: HTTPFields) -> HTTPFields {
        var merged = self
        for field in other { merged[field.name] = field.value }
        return merged
    }
}

extension OrderID {
    /// The ids of another deployment (another secret).
    static let forTests = try! OrderID(secret: "another-deployment-secret-0000")
}
