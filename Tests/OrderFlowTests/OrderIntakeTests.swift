import AMQP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Messaging
import OrderAPI
import OrderCore
import ServiceSupport
import TestSupport
import Testing

private let quietLogger: Logger = {
    var logger = Logger(label: "test-order-api")
    logger.logLevel = .error
    return logger
}()

@Suite(.timeLimit(.minutes(3))) struct OrderIntakeTests {
    @Test func twoHundredConcurrentOrdersForFiftyUnitsNeverOversell() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.product("hot", stock: ["vendorA": 30, "vendorB": 20])
            let app = try buildOrderAPI(configuration: system.apiConfiguration(), logger: quietLogger)
            let ids: [UUID] = try await app.test(.router) { client in
                try await withThrowingTaskGroup(of: UUID.self) { group in
                    for _ in 0..<200 {
                        group.addTask {
                            let response = try await client.postOrder(#"{"productId":"\#(product)","quantity":1}"#)
                            #expect(response.status == 202)
                            #expect(response.headers[.location]?.hasPrefix("/orders/") == true)
                            return try #require(UUID(uuidString: response.json["orderId"] as? String ?? ""))
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
            }
            #expect(Set(ids).count == 200)
            let statuses = try await system.withWorker { try await system.waitForOrders(ids) }
            #expect(statuses.count == 200)
            #expect(statuses.values.filter { $0 == "CONFIRMED" }.count == 50)
            #expect(statuses.values.filter { $0 == "REJECTED" }.count == 150)
            #expect(try system.stock(of: product) == ["vendorA": 0, "vendorB": 0])
        }
    }

    @Test func multiLineOrderWithOneShortLineIsRejectedWholesale() async throws {
        try await OrderSystemFixture.with { system in
            let plenty = try system.product("plenty", stock: ["vendorA": 100])
            let scarce = try system.product("scarce", stock: ["vendorB": 1])
            let app = try buildOrderAPI(configuration: system.apiConfiguration(), logger: quietLogger)
            let id = try await app.test(.router) { client in
                let response = try await client.postOrder(
                    #"{"items":[{"productId":"\#(plenty)","quantity":5},{"productId":"\#(scarce)","quantity":2}]}"#)
                #expect(response.status == 202)
                let text = try #require(response.json["orderId"] as? String)
                #expect(text == text.lowercased(), "ids are written in lower case (RFC 9562)")
                #expect(response.headers[.location] == "/orders/\(text)")
                return try #require(UUID(uuidString: text))
            }
            let statuses = try await system.withWorker { try await system.waitForOrders([id]) }
            #expect(statuses[id] == "REJECTED")
            #expect(try system.stock(of: plenty) == ["vendorA": 100])
            #expect(try system.stock(of: scarce) == ["vendorB": 1])

            // An application's services (pool, publisher) end with its test run: read with a new one.
            let reader = try buildOrderAPI(configuration: system.apiConfiguration(), logger: quietLogger)
            try await reader.test(.router) { client in
                // Asked for in upper case (`UUID`'s description), answered in lower case.
                let details = try await client.call(.get, "/orders/\(id.uuidString.uppercased())")
                #expect(details.status == 200)
                #expect(details.json["orderId"] as? String == id.uuidString.lowercased())
                #expect(details.json["status"] as? String == "REJECTED")
                #expect((details.json["reason"] as? String)?.contains(scarce) == true)
                #expect((details.json["lines"] as? [Any])?.count == 2)
                #expect((details.json["movements"] as? [Any])?.isEmpty == true)
            }
        }
    }

    @Test func sameIdempotencyKeyTwiceAtOnceGivesOneOrderAndOneDecrement() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.product("idem", stock: ["vendorA": 10])
            let key = "checkout-\(UUID().uuidString)"
            let app = try buildOrderAPI(configuration: system.apiConfiguration(), logger: quietLogger)
            let ids: [String] = try await app.test(.router) { client in
                async let first = client.postOrder(#"{"productId":"\#(product)","quantity":2}"#, key: key)
                async let second = client.postOrder(#"{"productId":"\#(product)","quantity":2}"#, key: key)
                let responses = try await [first, second]
                #expect(responses.map(\.status) == [202, 202])
                return responses.map { $0.json["orderId"] as? String ?? "" }
            }
            #expect(ids[0] == ids[1])
            #expect(try await system.depth(system.topology.orders.main) == 2, "both requests were published")
            let id = try #require(UUID(uuidString: ids[0]))
            let statuses = try await system.withWorker {
                let statuses = try await system.waitForOrders([id])
                try await Task.sleep(for: .seconds(1))  // let the duplicate be processed too
                return statuses
            }
            #expect(statuses[id] == "CONFIRMED")
            #expect(try await system.depth(system.topology.orders.main) == 0)
            #expect(try system.stock(of: product) == ["vendorA": 8])
            #expect(try await system.depth(system.topology.orders.deadLetter) == 0)
        }
    }

    /// The IETF Idempotency-Key draft: a key sent again with other lines is a
    /// 422, never a second order the worker would drop as a duplicate. Seen by
    /// the instance that accepted the key, also while the requests race.
    @Test func aKeyReusedForOtherLinesIsRefusedByTheInstanceThatAcceptedIt() async throws {
        try await OrderSystemFixture.with { system in
            let app = try buildOrderAPI(configuration: system.apiConfiguration(), logger: quietLogger)
            let key = "checkout-\(UUID().uuidString)"
            let raced = "race-\(UUID().uuidString)"
            try await app.test(.router) { client in
                let first = try await client.postOrder(#"{"productId":"p2","quantity":1}"#, key: key)
                #expect(first.status == 202)
                let other = try await client.postOrder(#"{"productId":"p3","quantity":7}"#, key: key)
                #expect(other.status == 422, "\(other.text)")
                #expect(other.contentType == "application/problem+json")
                #expect(other.json["code"] as? String == "idempotency-key-reused")
                // The same lines in the other request form are a retry.
                let retry = try await client.postOrder(#"{"items":[{"productId":"p2","quantity":1}]}"#, key: key)
                #expect(retry.status == 202)
                #expect(retry.json["orderId"] as? String == first.json["orderId"] as? String)
                // The same lines with a payment (or a checkout hold) are another order, not a retry.
                let paying = try await client.postOrder(#"{"productId":"p2","quantity":1,"payment":{"method":"pm_card_visa"}}"#, key: key)
                #expect(paying.status == 422, "\(paying.text)")
                let holding = try await client.postOrder(#"{"productId":"p2","quantity":1,"reservationId":"\#(UUID())"}"#, key: key)
                #expect(holding.status == 422, "\(holding.text)")

                async let a = client.postOrder(#"{"productId":"p2","quantity":1}"#, key: raced)
                async let b = client.postOrder(#"{"productId":"p2","quantity":2}"#, key: raced)
                #expect(try await [a.status, b.status].sorted() == [202, 422])
            }
            // The first order, its retry and one of the raced pair: nothing of the refused ones.
            #expect(try await system.depth(system.topology.orders.main) == 3)
        }
    }

    /// Seen by any instance once the order is processed: a fresh API (no
    /// memory of the key) finds the stored order's lines in the database.
    @Test func aKeyReusedForOtherLinesAfterItsOrderWasProcessedIsRefusedEverywhere() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.product("reused", stock: ["vendorA": 10])
            let key = "checkout-\(UUID().uuidString)"
            let first = try buildOrderAPI(configuration: system.apiConfiguration(), logger: quietLogger)
            let id = try await first.test(.router) { client in
                let response = try await client.postOrder(#"{"productId":"\#(product)","quantity":2}"#, key: key)
                #expect(response.status == 202)
                return try #require(UUID(uuidString: response.json["orderId"] as? String ?? ""))
            }
            let statuses = try await system.withWorker { try await system.waitForOrders([id]) }
            #expect(statuses[id] == "CONFIRMED")

            let second = try buildOrderAPI(configuration: system.apiConfiguration(), logger: quietLogger)
            try await second.test(.router) { client in
                let other = try await client.postOrder(#"{"productId":"\#(product)","quantity":3}"#, key: key)
                #expect(other.status == 422, "\(other.text)")
                #expect(other.json["code"] as? String == "idempotency-key-reused")
                let more = try await client.postOrder(#"{"items":[{"productId":"\#(product)","quantity":2},{"productId":"\#(product)","quantity":1}]}"#, key: key)
                #expect(more.status == 422)
                let retry = try await client.postOrder(#"{"productId":"\#(product)","quantity":2}"#, key: key)
                #expect(retry.status == 202)
                #expect(retry.json["orderId"] as? String == id.uuidString.lowercased())
            }
            #expect(try await system.depth(system.topology.orders.main) == 1, "only the retry was published")
        }
    }

    /// A key whose order was stored under another id (before ids were signed,
    /// or under another ORDER_ID_SECRET) is answered with that order's id, not
    /// the one the key derives now: the worker then finds it applied, and its
    /// Location reads the stored order, never a QUEUED id that no row will ever have.
    @Test func aKeyStoredUnderAnOlderIdIsAnsweredWithThatId() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.product("older-id", stock: ["vendorA": 10])
            let key = "checkout-\(UUID().uuidString)"
            let stored = UUID()  // version 4: what the key would never derive now
            try OrderSystemFixture.database { connection in
                try connection.withTransaction { connection in
                    try connection.query("INSERT INTO orders (id, idempotency_key, status, last_seq) VALUES ($1, $2, 'CONFIRMED', 0)", [stored, key])
                    try connection.query("INSERT INTO order_lines (order_id, line_no, product_id, quantity) VALUES ($1, 1, $2, 2)", [stored, product])
                }
            }
            let app = try buildOrderAPI(configuration: system.apiConfiguration(), logger: quietLogger)
            try await app.test(.router) { client in
                for attempt in ["the first retry (the database tells)", "a second one (this instance remembers)"] {
                    let retry = try await client.postOrder(#"{"productId":"\#(product)","quantity":2}"#, key: key)
                    #expect(retry.status == 202, "\(attempt)")
                    #expect(retry.json["orderId"] as? String == stored.uuidString.lowercased(), "\(attempt)")
                    #expect(retry.headers[.location] == "/orders/\(stored.uuidString.lowercased())", "\(attempt)")
                }
            }
            #expect(try await system.withWorker { try await system.waitForOrders([stored]) }[stored] == "CONFIRMED")
            #expect(try system.stock(of: product) == ["vendorA": 10], "a duplicate of the stored order: nothing taken")
            #expect(try await system.depth(system.topology.orders.deadLetter) == 0)
        }
    }

    /// RFC 9110: HEAD wherever GET, OPTIONS with Allow, and 405 with Allow
    /// for a known path asked with a method it does not answer.
    @Test func methodsFollowHTTPSemantics() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.product("head", stock: ["vendorA": 4])
            let app = try buildOrderAPI(configuration: system.apiConfiguration(), logger: quietLogger)
            try await app.test(.router) { client in
                // Bodies that stay the same between the two requests (the
                // product list does not: other tests add products meanwhile).
                for path in ["/products/\(product)", "/health/live", "/openapi.yaml"] {
                    let get = try await client.call(.get, path)
                    let head = try await client.call(.head, path)
                    #expect(head.status == get.status, "\(path)")
                    #expect(head.contentType == get.contentType, "\(path)")
                    #expect(head.headers[.contentLength] == get.headers[.contentLength], "\(path)")
                    #expect(head.headers[.contentLength] != nil, "\(path)")
                    #expect(head.body.isEmpty, "\(path)")
                }
                let products = try await client.call(.head, "/products")
                #expect(products.status == 200)
                #expect(products.contentType == "application/json")
                #expect(products.body.isEmpty)
                let missing = try await client.call(.head, "/orders/\(UUID())")
                #expect(missing.status == 404)
                #expect(missing.body.isEmpty)

                for (path, allow) in [
                    ("/order", "POST, OPTIONS"), ("/orders", "POST, OPTIONS"), ("/orders/\(UUID())", "GET, HEAD, OPTIONS"),
                    ("/products", "GET, HEAD, OPTIONS"), ("/products/p1", "GET, HEAD, OPTIONS"), ("/health/ready", "GET, HEAD, OPTIONS"),
                ] {
                    let options = try await client.call(.options, path)
                    #expect(options.status == 204, "\(path)")
                    #expect(options.headers[.allow] == allow, "\(path)")
                    #expect(options.headers[.contentLength] == nil, "\(path): a 204 has no Content-Length")
                }
                for (method, path, allow) in [
                    (HTTPRequest.Method.get, "/order", "POST, OPTIONS"), (.delete, "/products", "GET, HEAD, OPTIONS"),
                    (.put, "/orders/\(UUID())", "GET, HEAD, OPTIONS"), (.post, "/products/p1", "GET, HEAD, OPTIONS"),
                    (.patch, "/health/live", "GET, HEAD, OPTIONS"),
                ] {
                    let response = try await client.call(method, path)
                    #expect(response.status == 405, "\(method) \(path)")
                    #expect(response.headers[.allow] == allow, "\(method) \(path)")
                    #expect(response.contentType == "application/problem+json", "\(method) \(path)")
                    #expect(response.json["code"] as? String == "method-not-allowed", "\(method) \(path)")
                }
                let headOfPost = try await client.call(.head, "/order")
                #expect(headOfPost.status == 405)
                #expect(headOfPost.headers[.allow] == "POST, OPTIONS")
                #expect(headOfPost.body.isEmpty)
                for method in [HTTPRequest.Method.options, .delete, .get] {
                    let nowhere = try await client.call(method, "/nowhere/\(UUID())")
                    #expect(nowhere.status == 404, "\(method)")
                    #expect(nowhere.headers[.allow] == nil, "\(method)")
                }
            }
        }
    }

    @Test func badInputIsAProblemAndPublishesNothing() async throws {
        try await OrderSystemFixture.with { system in
            let app = try buildOrderAPI(configuration: system.apiConfiguration(), logger: quietLogger)
            let items = (0...100).map { _ in #"{"productId":"p1","quantity":1}"# }.joined(separator: ",")
            let cases: [(String, [UInt8], HTTPFields, Int, String?)] = [
                ("wrong type", Array(#"{"productId":"p1","quantity":"2"}"#.utf8), [.contentType: "application/json"], 400, "quantity"),
                ("zero", Array(#"{"productId":"p1","quantity":0}"#.utf8), [.contentType: "application/json"], 400, "quantity"),
                ("negative", Array(#"{"productId":"p1","quantity":-1}"#.utf8), [.contentType: "application/json"], 400, "quantity"),
                ("huge", Array(#"{"productId":"p1","quantity":1e300}"#.utf8), [.contentType: "application/json"], 400, "quantity"),
                ("101 lines", Array(#"{"items":[\#(items)]}"#.utf8), [.contentType: "application/json"], 400, "items"),
                ("unknown field", Array(#"{"productId":"p1","quantity":1,"coupon":"x"}"#.utf8), [.contentType: "application/json"], 400, "coupon"),
                ("empty body", [], [.contentType: "application/json"], 400, "body"),
                ("invalid UTF-8", [0x7B, 0x22, 0xC3, 0x28, 0x22, 0x7D], [.contentType: "application/json"], 400, "body"),
                ("not JSON", Array("productId=p1".utf8), [.contentType: "application/x-www-form-urlencoded"], 415, nil),
                ("no Content-Type", Array(#"{"productId":"p1","quantity":1}"#.utf8), [:], 415, nil),
                ("Latin-1", Array(#"{"productId":"p1","quantity":1}"#.utf8), [.contentType: "application/json; charset=iso-8859-1"], 415, nil),
                ("duplicate key", Array(#"{"productId":"p3","productId":"p1","quantity":1}"#.utf8), [.contentType: "application/json"], 400, "productId"),
                ("duplicate key in a line", Array(#"{"items":[{"productId":"p1","quantity":1,"quantity":9}]}"#.utf8),
                 [.contentType: "application/json"], 400, "items[0].quantity"),
                ("1 MiB body", [UInt8](repeating: 0x20, count: 1 << 20), [.contentType: "application/json"], 413, nil),
                ("bad idempotency key", Array(#"{"productId":"p1","quantity":1}"#.utf8),
                 [.contentType: "application/json", HTTPField.Name("Idempotency-Key")!: String(repeating: "k", count: 300)], 400, "Idempotency-Key"),
            ]
            try await app.test(.router) { client in
                for (name, body, headers, status, field) in cases {
                    let response = try await client.call(.post, "/order", headers: headers, body: body)
                    #expect(response.status == status, "\(name): \(response.text.prefix(300))")
                    #expect(response.contentType == "application/problem+json", "\(name)")
                    #expect(response.json["code"] != nil, "\(name)")
                    if let field {
                        let fields = (response.json["errors"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String }
                        #expect(fields.contains(field), "\(name): \(fields)")
                    }
                }
                let notUUID = try await client.call(.get, "/orders/not-a-uuid")
                #expect(notUUID.status == 400)
                let unknown = try await client.call(.get, "/orders/\(UUID())")
                #expect(unknown.status == 404)
                #expect(unknown.contentType == "application/problem+json")
                let noRoute = try await client.call(.get, "/nowhere")
                #expect(noRoute.status == 404)
                #expect(noRoute.contentType == "application/problem+json")
            }
            #expect(try await system.depth(system.topology.orders.main) == 0, "nothing may be published for rejected input")
        }
    }

    @Test func productsShowTheSumOverVendors() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.product("sum", stock: ["vendorA": 15, "vendorB": 5])
            let app = try buildOrderAPI(configuration: system.apiConfiguration(), logger: quietLogger)
            try await app.test(.router) { client in
                let one = try await client.call(.get, "/products/\(product)")
                #expect(one.status == 200)
                #expect(one.json["available"] as? Int == 20)
                #expect((one.json["vendors"] as? [[String: Any]])?.count == 2)
                let all = try await client.call(.get, "/products")
                let products = all.json["products"] as? [[String: Any]] ?? []
                #expect(products.contains { $0["productId"] as? String == product })
                #expect(try await client.call(.get, "/products/nope-\(UUID())").status == 404)
                #expect(try await client.call(.get, "/health/live").status == 200)
                let ready = try await client.call(.get, "/health/ready")
                #expect(ready.status == 200, "\(ready.text)")
            }
        }
    }

    /// The read paths' database errors go through the one mapping: 503 with
    /// Retry-After, and nothing of the error (URL, password, libpq's message) in the body.
    @Test func anUnreachableDatabaseIsA503ThatLeaksNothing() async throws {
        let secret = "Orders-Db-Secret-51c2"
        let configuration = try OrderAPIConfiguration(environment: EnvironmentConfiguration([
            "AMQP_URL": TestEnvironment.amqpURL,
            // Port 1 refuses connections at once.
            "DATABASE_URL": "postgres://orders:\(secret)@127.0.0.1:1/ordersdb?connect_timeout=2",
            "QUEUE_PREFIX": TestEnvironment.uniqueName("intake-db-down") + ".", "ORDER_ID_SECRET": TestEnvironment.orderIdSecret,
        ]))
        let app = try buildOrderAPI(configuration: configuration, logger: quietLogger)
        try await app.test(.router) { client in
            for path in ["/products", "/products/p1", "/orders/\(UUID())"] {
                let response = try await client.call(.get, path)
                #expect(response.status == 503, "\(path)")
                #expect(response.contentType == "application/problem+json", "\(path)")
                #expect(response.json["code"] as? String == "database-unavailable", "\(path)")
                #expect(response.headers[.retryAfter] != nil, "\(path)")
                for leak in [secret, "127.0.0.1", "ordersdb", "PostgreSQL", "connection"] {
                    #expect(!response.text.contains(leak), "\(path): \(leak) in \(response.text)")
                }
            }
        }
    }
}
