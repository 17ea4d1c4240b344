import AMQP
import Foundation
import FulfilmentWorker
import Messaging
import OrderCore
import OrderStore
import ServiceSupport
import TestSupport
import Testing
import TextCodecs

/// fulfilment-worker as it runs (in-process) against the live broker and
/// ordersdb, with the warehouse played by a `StandInServer`.
@Suite(.timeLimit(.minutes(3))) struct FulfilmentWorkerTests {
    /// The seed's FulfillmentRequest, exactly: the order id as Idempotency-Key, the
    /// bearer token, SKUs from the shopify mapping (the product id when unmapped);
    /// the order goes CONFIRMED → FULFILLING through the lifecycle.
    @Test func aConfirmedOrderIsSentOnceAndBecomesFulfilling() async throws {
        try await FulfilmentFixture.with { fixture in
            let unmapped = fixture.product + "-u"
            try TestEnvironment.createProduct(unmapped, stock: ["vendorA": 10])
            let product = fixture.product
            try await TestEnvironment.ordersDatabase { connection in
                try SKUMappings.set(sku: "SKU-" + product, channel: "shopify", productId: product, inventoryItemId: nil, on: connection)
            }
            let orders = try await fixture.confirmedOrders(1, lines: [OrderLine(productId: unmapped, quantity: 1)])
            let order = orders[0]
            try await fixture.running(["WMS_TOKEN": "wms-secret-token"]) { _ in
                let states = try await fixture.waitForState(.fulfilling, of: orders)
                #expect(states[order] == .fulfilling)
            }
            let requests = fixture.warehouse.requests
            #expect(requests.count == 1)
            let request = try #require(requests.first)
            let id = UUIDText.string(order)
            #expect(request.method == "POST")
            #expect(request.path == "/fulfillments")
            #expect(request.headers["idempotency-key"] == id)
            #expect(request.headers["authorization"] == "Bearer wms-secret-token")
            #expect(request.headers["content-type"] == "application/json")
            #expect(request.text == #"{"orderId":"\#(id)","lineItems":[{"sku":"SKU-\#(product)","quantity":2},{"sku":"\#(unmapped)","quantity":1}]}"#)
            let history = try await TestEnvironment.ordersDatabase { try OrderHistory.transitions(of: order, on: $0) }
            #expect(history.map(\.to) == [.confirmed, .fulfilling])
            #expect(history.last?.cause == "fulfilment-started")
            let events = try await TestEnvironment.ordersDatabase {
                try Outbox.pending(Outbox.Scope(exchange: fixture.topology.orderEvents, queues: []), limit: 100, on: $0)
            }.map(\.message).filter { $0.correlationId == id }
            #expect(events.contains { $0.routingKey == "order.fulfilling" }, "the transition's event goes out through the outbox")
            #expect(try await fixture.broker.depth(of: fixture.topology.fulfilment.deadLetter) == 0)
        }
    }

    /// A 4xx is the warehouse refusing the order: dead-lettered at once (no retry)
    /// with its status and answer, the order flagged for review and left CONFIRMED.
    @Test func aRefusalIsDeadLetteredAtOnceWithTheAnswerAndFlagsTheOrder() async throws {
        let warehouse = StandInServer { _ in .json(["error": "unknown sku", "code": "sku_not_found"], status: 422) }
        try await FulfilmentFixture.with(warehouse: warehouse) { fixture in
            let orders = try await fixture.confirmedOrders(1)
            try await fixture.running(["FULFILMENT_MAX_RETRIES": "5"]) { _ in
                let deadLettered = try await fixture.broker.waitForDepth(of: fixture.topology.fulfilment.deadLetter) { $0 >= 1 }
                #expect(deadLettered == 1)
            }
            #expect(fixture.warehouse.requests.count == 1, "a refusal is not retried")
            #expect(try await fixture.broker.depth(of: fixture.topology.fulfilment.retry) == 0)
            let dead = try await fixture.broker.drain(fixture.topology.fulfilment.deadLetter)
            let headers = try #require(dead.first?.properties.headers)
            #expect(headers[FailureHeaders.Name.reason]?.stringValue == "wms-refused")
            let message = headers[FailureHeaders.Name.message]?.stringValue ?? ""
            #expect(message.hasPrefix("wms refused: 422 "), "\(message)")
            #expect(message.contains("unknown sku"), "\(message)")
            #expect(FailureHeaders.retryCount(of: dead[0].properties) == 0)
            let order = try await fixture.order(orders[0])
            #expect(order.status == .confirmed)
            #expect(order.reviewRequired)
            #expect(order.reviewReason?.hasPrefix("wms refused: 422 ") == true, "\(order.reviewReason ?? "")")
        }
    }

    /// An order cancelled before its event is handled is not sent; the order
    /// behind it (one window at a time) is, which shows the first was handled.
    @Test func aCancelledOrderIsNotSent() async throws {
        try await FulfilmentFixture.with { fixture in
            let orders = try await fixture.confirmedOrders(2, publish: false)
            let (cancelled, sent) = (orders[0], orders[1])
            let routing = fixture.outboxRouting
            _ = try await TestEnvironment.ordersDatabase { connection in
                try OrderCommands.cancel(cancelled, reason: "changed my mind", actor: .customer, queuedIfAbsent: false, routing: routing, on: connection)
            }
            try await fixture.publishEvents(try await fixture.confirmedEvents(of: [cancelled, sent]))
            try await fixture.running(["FULFILMENT_CONCURRENCY": "1"]) { _ in
                let states = try await fixture.waitForState(.fulfilling, of: [sent])
                #expect(states[sent] == .fulfilling)
            }
            #expect(fixture.requestsPerOrder() == [UUIDText.string(sent): 1])
            #expect(try await fixture.order(cancelled).status == .cancelled)
            #expect(try await fixture.order(cancelled).reviewRequired == false)
            #expect(try await fixture.broker.depth(of: fixture.topology.fulfilment.deadLetter) == 0)
        }
    }

    /// A warehouse slower than WMS_TIMEOUT_MS is transient: the event waits in
    /// the first retry tier with one retry counted, nothing is dead-lettered or flagged.
    @Test func aTimeoutIsTransient() async throws {
        try await FulfilmentFixture.with(retryDelays: [600_000, 600_000]) { fixture in
            fixture.warehouse.mode = .slow(.seconds(3))
            let orders = try await fixture.confirmedOrders(1)
            try await fixture.running(["WMS_TIMEOUT_MS": "300", "FULFILMENT_MAX_RETRIES": "5"]) { _ in
                let waiting = try await fixture.broker.waitForDepth(of: fixture.topology.fulfilment.retryTiers[0].name) { $0 >= 1 }
                #expect(waiting == 1)
            }
            let retried = try await fixture.broker.drain(fixture.topology.fulfilment.retryTiers[0].name)
            #expect(FailureHeaders.retryCount(of: retried[0].properties) == 1)
            #expect(retried[0].properties.headers[FailureHeaders.Name.reason]?.stringValue == "wms-unavailable")
            #expect(try await fixture.broker.depth(of: fixture.topology.fulfilment.deadLetter) == 0)
            let order = try await fixture.order(orders[0])
            #expect(order.status == .confirmed)
            #expect(!order.reviewRequired)
        }
    }

    /// A 4xx that says nothing about the order is transient, not a refusal: a
    /// wrong token or address (401, 403, 404) must hold every order back, not
    /// dead-letter and flag each one; 409 (a request under the same key still in
    /// progress, as after a timed-out call) and 429 ask to come back later.
    @Test(arguments: [401, 403, 404, 408, 409, 425, 429])
    func aClientErrorThatIsNotAboutTheOrderIsTransient(status: Int) async throws {
        try await FulfilmentFixture.with(retryDelays: [600_000, 600_000]) { fixture in
            fixture.warehouse.mode = .failing(status: status)
            let orders = try await fixture.confirmedOrders(1)
            try await fixture.running(["FULFILMENT_MAX_RETRIES": "5"]) { _ in
                let waiting = try await fixture.broker.waitForDepth(of: fixture.topology.fulfilment.retryTiers[0].name) { $0 >= 1 }
                #expect(waiting == 1)
            }
            let retried = try await fixture.broker.drain(fixture.topology.fulfilment.retryTiers[0].name)
            // Required, not expected: indexing an empty list would crash the whole test process.
            try #require(retried.count == 1)
            #expect(FailureHeaders.retryCount(of: retried[0].properties) == 1)
            #expect(retried[0].properties.headers[FailureHeaders.Name.reason]?.stringValue == "wms-server-error")
            #expect(try await fixture.broker.depth(of: fixture.topology.fulfilment.deadLetter) == 0)
            let order = try await fixture.order(try #require(orders.first))
            #expect(order.status == .confirmed)
            #expect(!order.reviewRequired, "\(order.reviewReason ?? "")")
        }
    }

    /// A 5xx is transient, and retry n waits in tier min(n, tiers): a first
    /// failure in the first tier, one with four retries spent in the last.
    @Test func aServerErrorRetriesThroughTheTiers() async throws {
        try await FulfilmentFixture.with(retryDelays: [600_000, 600_000, 600_000]) { fixture in
            fixture.warehouse.mode = .failing(status: 503)
            let fresh = try await fixture.confirmedOrders(1)
            let late = try await fixture.confirmedOrders(1, retryCount: 4)
            let tiers = fixture.topology.fulfilment.retryTiers.map(\.name)
            try await fixture.running(["FULFILMENT_MAX_RETRIES": "10", "FULFILMENT_BREAKER_FAILURES": "10"]) { _ in
                let first = try await fixture.broker.waitForDepth(of: tiers[0]) { $0 >= 1 }
                let last = try await fixture.broker.waitForDepth(of: tiers[2]) { $0 >= 1 }
                #expect(first == 1)
                #expect(last == 1)
            }
            #expect(try await fixture.broker.depth(of: tiers[1]) == 0)
            let first = try await fixture.broker.drain(tiers[0])
            let last = try await fixture.broker.drain(tiers[2])
            #expect(first.map { $0.properties.correlationID } == [UUIDText.string(fresh[0])])
            #expect(last.map { $0.properties.correlationID } == [UUIDText.string(late[0])])
            #expect(last.map { FailureHeaders.retryCount(of: $0.properties) } == [5])
            #expect(first.first?.properties.headers[FailureHeaders.Name.reason]?.stringValue == "wms-server-error")
        }
    }

    /// Without WMS_URL the worker refuses to start, naming the variable.
    /// The database away (a FaultProxy cut in front of it): the worker holds its window
    /// instead of spending retries, /health/ready names ordersdb, and once the database is
    /// back each order is sent once and becomes FULFILLING.
    @Test func aDatabaseThatIsAwayHoldsTheWindowAndTheReadinessSaysSo() async throws {
        try await FulfilmentFixture.with { fixture in
            let direct = try TestEnvironment.postgresConfiguration()
            try await FixtureLifetime.using(
                try await FaultProxy(targetHost: direct.endpoints[0].host, targetPort: direct.endpoints[0].port), tearDown: { await $0.shutdown() }
            ) { proxy in
                let orders = try await fixture.confirmedOrders(2)
                await proxy.cut()
                let status = DependencyStatus()
                let port = try await StandInServer.freePort()
                let overrides = ["DATABASE_URL": proxy.url(replacingHostAndPortOf: TestEnvironment.databaseURL), "FULFILMENT_HTTP_PORT": "\(port)"]
                try await fixture.running(overrides, status: status) { _ in
                    let deadline = ContinuousClock.now + .seconds(20)
                    while status.isReady, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
                    // The HTTP server may start listening after the worker found the database away.
                    var ready = try FulfilmentChaosTests.get("http://127.0.0.1:\(port)/health/ready")
                    while ready.status != 503, ContinuousClock.now < deadline {
                        try await Task.sleep(for: .milliseconds(200))
                        ready = try FulfilmentChaosTests.get("http://127.0.0.1:\(port)/health/ready")
                    }
                    #expect(ready.status == 503, "\(ready.body)")
                    #expect(ready.body.contains(#""dependency":"ordersdb""#) && ready.body.contains(#""wms":"closed""#), "\(ready.body)")
                    try await Task.sleep(for: .seconds(2))
                    #expect(try await fixture.broker.depth(of: fixture.topology.fulfilment.retryQueue(attempt: 1)) == 0, "no retry spent")
                    #expect(fixture.warehouse.requests.isEmpty)
                    try await proxy.restore()
                    let states = try await fixture.waitForState(.fulfilling, of: orders)
                    #expect(states.values.allSatisfy { $0 == .fulfilling })
                    var back = try FulfilmentChaosTests.get("http://127.0.0.1:\(port)/health/ready")
                    let backDeadline = ContinuousClock.now + .seconds(10)
                    while back.status != 200, ContinuousClock.now < backDeadline {
                        try await Task.sleep(for: .milliseconds(200))
                        back = try FulfilmentChaosTests.get("http://127.0.0.1:\(port)/health/ready")
                    }
                    #expect(back.status == 200, "\(back.body)")
                }
                #expect(status.isReady)
                #expect(fixture.requestsPerOrder() == Dictionary(uniqueKeysWithValues: orders.map { (UUIDText.string($0), 1) }))
                #expect(try await fixture.broker.depth(of: fixture.topology.fulfilment.deadLetter) == 0)
            }
        }
    }

    @Test func theWorkerRefusesToStartWithoutAWarehouseURL() throws {
        let error = #expect(throws: ConfigurationError.self) {
            try FulfilmentWorkerConfiguration(environment: EnvironmentConfiguration([:]))
        }
        #expect(error?.variable == "WMS_URL")
        #expect(error?.message.contains("required") == true)
        let configuration = try FulfilmentWorkerConfiguration(environment: EnvironmentConfiguration(["WMS_URL": "http://wms.example/"]))
        #expect(configuration.warehouse.baseURL == "http://wms.example")
        #expect(configuration.topology.fulfilmentRetryDelaysMilliseconds == [5_000, 30_000, 300_000])
        #expect(configuration.retryPolicy.maxRetries == 10)
    }
}
