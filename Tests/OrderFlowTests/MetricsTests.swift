import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import OrderAPI
import ServiceSupport
import TestSupport
import Testing

private let quietLogger: Logger = {
    var logger = Logger(label: "test-metrics")
    logger.logLevel = .error
    return logger
}()

/// `GET /metrics` on order-api, and what the order path counts under labels
/// only this test's queues have (the registry is the whole test process's).
@Suite(.timeLimit(.minutes(3))) struct MetricsEndpointTests {
    /// The exposition format, and HTTP requests labelled by their route's pattern:
    /// an order id never becomes a label value.
    @Test func orderAPIServesItsMetricsWithRoutePatternsNotPaths() async throws {
        try await OrderSystemFixture.with { system in
            let app = try buildOrderAPI(configuration: system.apiConfiguration(), logger: quietLogger)
            let id = UUID().uuidString.lowercased()
            try await app.test(.router) { client in
                let unknown = try await client.call(.get, "/orders/\(id)")
                #expect(unknown.status == 404)
                let metrics = try await client.call(.get, "/metrics")
                #expect(metrics.status == 200)
                #expect(metrics.contentType == "text/plain; version=0.0.4; charset=utf-8")
                let text = MetricsText(metrics.text)
                #expect(!metrics.text.contains(id), "the raw path is no label value")
                let route = ["http_route": "/orders/{id}", "http_request_method": "GET", "http_response_status_code": "404"]
                #expect((text.value("http_server_requests_total", route) ?? 0) >= 1)
                // Timed too: the trace middleware answers a problem as a response, so the metrics
                // middleware outside it sees a 404, not an error it would count but not time.
                #expect((text.value("http_server_request_duration_seconds_count", route) ?? 0) >= 1)
                #expect(text.value("orders_accepted_total", ["channel": "api"]) != nil)
            }
        }
    }

    /// One order through order-worker: its window, its message and the confirm of
    /// what it published are counted under the fixture's own queue.
    @Test func theOrderWorkerCountsItsWindowsUnderItsOwnQueue() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.product("metered", stock: ["vendorA": 3])
            let app = try buildOrderAPI(configuration: system.apiConfiguration(), logger: quietLogger)
            let id = try await app.test(.router) { client in
                let response = try await client.postOrderUntilAnswered(#"{"productId":"\#(product)","quantity":1}"#)
                #expect(response.status == 202)
                return try #require(UUID(uuidString: response.json["orderId"] as? String ?? ""))
            }
            let statuses = try await system.withWorker { try await system.waitForOrders([id]) }
            #expect(statuses[id] == "CONFIRMED")
            let metrics = MetricsText.process
            let queue = ["queue": system.topology.orders.main]
            #expect(metrics.value("worker_messages_total", queue) == 1)
            #expect(metrics.value("worker_window_size_count", queue) == 1)
            #expect(metrics.value("worker_dead_letters_total", queue) == nil)
            #expect((metrics.value("orders_applied_total", ["outcome": "confirmed"]) ?? 0) >= 1)
            #expect((metrics.value("amqp_publish_confirm_seconds_count", ["publisher": "order-worker"]) ?? 0) >= 1)
        }
    }
}

/// Intake's counters move by exactly one per order: exact only where nothing
/// else in the process posts orders, so this runs alone, in scripts/test's
/// second phase (CHAOS_TESTS=1, with the other solo tests).
@Suite(.serialized, .enabled(if: LocalServices.chaosEnabled, "exact process-wide counts: run alone by scripts/test"))
struct SoloIntakeMetricsTests {
    @Test func anAcceptedAndARejectedOrderMoveTheirCountersByOne() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.product("counted", stock: ["vendorA": 1])
            let app = try buildOrderAPI(configuration: system.apiConfiguration(), logger: quietLogger)
            let accepted = ["channel": "api"], invalid = ["reason": "invalid-request"]
            try await app.test(.router) { client in
                let before = MetricsText.process
                let accepting = try await client.postOrder(#"{"productId":"\#(product)","quantity":1}"#)
                let rejecting = try await client.postOrder(#"{"productId":"\#(product)","quantity":0}"#)
                #expect(accepting.status == 202)
                #expect(rejecting.status == 400)
                let after = MetricsText.process
                #expect((after.value("orders_accepted_total", accepted) ?? 0) - (before.value("orders_accepted_total", accepted) ?? 0) == 1)
                #expect((after.value("orders_rejected_total", invalid) ?? 0) - (before.value("orders_rejected_total", invalid) ?? 0) == 1)
                #expect(after.value("orders_rejected_total") == (before.value("orders_rejected_total") ?? 0) + 1, "no other reason moved")
            }
            #expect(try await system.drain(system.topology.orders.main).count == 1, "the accepted order is on the queue")
        }
    }
}
