import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import OrderAPI
import OrderCore
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

    @Test func workerRidesOutBrokerAndDatabaseRestartsApplyingEachOrderOnce() async throws {
        try await LocalServices.waitForQuorumQueues()
        try await OrderSystemFixture.with(retryDelayMilliseconds: 1000) { system in
            let product = try system.product("chaos-worker", stock: ["vendorA": 10_000])
            let orders = (0..<400).map { _ in
                OrderPlaced(orderId: UUID(), lines: [OrderLine(productId: product, quantity: 2)], idempotencyKey: nil, acceptedAt: Date())
            }
            let ids = orders.map(\.orderId)
            try await system.withWorker(["WORKER_PREFETCH": "20", "MAX_RETRIES": "10"]) { () async throws in
                for order in orders.prefix(200) { try await system.publish(order) }
                try await Task.sleep(for: .milliseconds(300))
                try LocalServices.stop(.rabbitmq)
                try LocalServices.start(.rabbitmq)
                try await LocalServices.waitForQuorumQueues()
                try await system.reconnectBroker()
                for order in orders.dropFirst(200) { try await system.publish(order) }
                try await Task.sleep(for: .milliseconds(300))
                try LocalServices.stop(.postgres)
                try await Task.sleep(for: .seconds(2))
                try LocalServices.start(.postgres)
                let statuses = try await system.waitForOrders(ids, timeout: .seconds(120))
                #expect(statuses.count == orders.count)
                #expect(statuses.values.allSatisfy { $0 == "CONFIRMED" })
            }
            #expect(try system.stock(of: product) == ["vendorA": 10_000 - 2 * orders.count], "each order decremented once")
            #expect(try await system.depth(system.topology.orders.deadLetter) == 0)
        }
    }
}
