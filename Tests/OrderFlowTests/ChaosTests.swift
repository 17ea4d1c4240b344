import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import OrderAPI
import OrderCore
import Postgres
import TestSupport
import Testing

/// Tests that stop the shared broker or database. scripts/test runs them in a
/// phase of their own (CHAOS_TESTS=1), after every other test.
@Suite(.serialized, .enabled(if: LocalServices.chaosEnabled, "stops shared services: run by scripts/test in its own phase"), .timeLimit(.minutes(5)))
struct ChaosTests {
    @Test func brokerDownMeans503WithinTwoSecondsAndAcceptingAgainAfter() async throws {
        try await LocalServices.waitForQuorumQueues()  // an earlier chaos test may have just restarted it
        try await OrderSystemFixture.with { system in
            let product = try system.product("chaos-api", stock: ["vendorA": 10])
            var logger = Logger(label: "chaos-api")
            logger.logLevel = .critical
            let app = try buildOrderAPI(configuration: system.apiConfiguration(), logger: logger)
            try await app.test(.router) { client in
                #expect(try await client.postOrder(#"{"productId":"\#(product)","quantity":1}"#).status == 202)
                try LocalServices.stop(.rabbitmq)
                do {
                    for _ in 0..<3 {
                        let started = ContinuousClock.now
                        let response = try await client.postOrder(#"{"productId":"\#(product)","quantity":1}"#)
                        let elapsed = ContinuousClock.now - started
                        #expect(response.status == 503)
                        #expect(response.contentType == "application/problem+json")
                        #expect(response.headers[.retryAfter] != nil)
                        #expect(elapsed < .seconds(2), "answered in \(elapsed)")
                    }
                    #expect(try await client.call(.get, "/health/live").status == 200, "the API stays up")
                    #expect(try await client.call(.get, "/health/ready").status == 503)
                } catch {
                    try? LocalServices.start(.rabbitmq)
                    throw error
                }
                try LocalServices.start(.rabbitmq)
                try await LocalServices.waitForQuorumQueues()
                var status = 0
                let deadline = ContinuousClock.now + .seconds(30)
                while status != 202, ContinuousClock.now < deadline {
                    status = try await client.postOrder(#"{"productId":"\#(product)","quantity":1}"#).status
                    if status != 202 { try await Task.sleep(for: .milliseconds(500)) }
                }
                #expect(status == 202, "accepting again once the broker is back")
            }
            // Only accepted orders were published: the first and the last.
            try await system.reconnectBroker()
            #expect(try await system.depth(system.topology.orders.main) == 2)
        }
    }

    /// Each outage hits work in flight: a session holds the product's stock rows, so the
    /// worker takes deliveries but cannot apply them when the service stops under it.
    /// The broker stops with the worker's deliveries unacked (released then, they are
    /// applied while nobody can take their acks, and come back after the restart); the
    /// database stops in the middle of the worker's transactions, and more orders arrive
    /// while it is down. Every order is applied once, after the restarts.
    @Test func workerRidesOutBrokerAndDatabaseRestartsApplyingEachOrderOnce() async throws {
        try await LocalServices.waitForQuorumQueues()
        try await OrderSystemFixture.with(retryDelayMilliseconds: 1000) { system in
            let product = try system.product("chaos-worker", stock: ["vendorA": 10_000])
            let orders = (0..<400).map { _ in
                OrderPlaced(orderId: UUID(), lines: [OrderLine(productId: product, quantity: 2)], idempotencyKey: nil, acceptedAt: Date())
            }
            let beforeBrokerStop = Array(orders[0..<200]), beforeDatabaseStop = Array(orders[200..<300])
            let duringDatabaseOutage = Array(orders[300..<400])
            try await system.withWorker(["WORKER_PREFETCH": "20", "WORKER_BATCH_SIZE": "10", "MAX_RETRIES": "10"]) { () async throws in
                // 1. The broker.
                let brokerBlocker = try StockRowLock(product)
                for order in beforeBrokerStop { try await system.publish(order) }
                try await system.expectInFlight(beforeBrokerStop)
                try LocalServices.stop(.rabbitmq)
                brokerBlocker.release()
                try LocalServices.start(.rabbitmq)
                try await LocalServices.waitForQuorumQueues()
                try await system.reconnectBroker()
                let afterBrokerRestart = try await system.waitForOrders(beforeBrokerStop.map(\.orderId), timeout: .seconds(120))
                #expect(afterBrokerRestart.count == beforeBrokerStop.count, "applied after the broker restart")
                // The copies redelivered after the restart settle too, so the next check counts only new orders.
                let settled = try await system.broker.waitForDepth(of: system.topology.orders.main) { $0 == 0 }
                #expect(settled == 0, "the redelivered copies had not settled before the database phase")
                try await Task.sleep(for: .seconds(1))

                // 2. The database.
                let databaseBlocker = try StockRowLock(product)
                for order in beforeDatabaseStop { try await system.publish(order) }
                try await system.expectInFlight(beforeDatabaseStop)
                try LocalServices.stop(.postgres)
                databaseBlocker.release()  // its session ended with the server
                do {
                    for order in duringDatabaseOutage { try await system.publish(order) }
                } catch {
                    try? LocalServices.start(.postgres)
                    throw error
                }
                try LocalServices.start(.postgres)
                let statuses = try await system.waitForOrders(orders.map(\.orderId), timeout: .seconds(120))
                #expect(statuses.count == orders.count)
                #expect(statuses.values.allSatisfy { $0 == "CONFIRMED" })
            }
            #expect(try system.stock(of: product) == ["vendorA": 10_000 - 2 * orders.count], "each order decremented once")
            #expect(try await system.depth(system.topology.orders.deadLetter) == 0)
        }
    }
}

extension OrderSystemFixture {
    /// The worker holds some of `orders` (taken from the queue, unacked) and has applied none of them.
    fileprivate func expectInFlight(_ orders: [OrderPlaced]) async throws {
        let ready = try await broker.waitForDepth(of: topology.orders.main) { $0 < orders.count }
        #expect(ready < orders.count, "the worker took none of the \(orders.count) orders")
        try await Task.sleep(for: .milliseconds(500))
        #expect(try statuses(orders.map(\.orderId)).isEmpty, "orders were applied while their stock rows were locked")
    }
}
