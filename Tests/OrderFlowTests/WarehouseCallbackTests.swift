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
import TextCodecs

/// `POST /webhooks/wms/shipments`: the warehouse's carrier scans move an order
/// through SHIPPED → IN_TRANSIT → DELIVERED (a scan implies the states before
/// it), a parcel's row never goes backwards, and every transition's event goes
/// out through the outbox.
@Suite(.timeLimit(.minutes(2))) struct WarehouseCallbackTests {
    static let token = "wms-callback-token-\(UUID().uuidString)"

    private static let quietLogger: Logger = {
        var logger = Logger(label: "test-wms-callbacks")
        logger.logLevel = .critical
        return logger
    }()

    private func app(_ system: OrderSystemFixture, token: String? = WarehouseCallbackTests.token) throws -> some ApplicationProtocol {
        var environment = system.environment
        environment["WMS_CALLBACK_TOKEN"] = token
        return try buildOrderAPI(configuration: OrderAPIConfiguration(environment: EnvironmentConfiguration(environment)), logger: Self.quietLogger)
    }

    /// A CONFIRMED order, confirmed by the order worker's own applier.
    private func confirmedOrder(_ system: OrderSystemFixture) async throws -> UUID {
        let product = try system.product("wms\(UUID().uuidString.prefix(6))", stock: ["vendorA": 10])
        let settings = OrderApplier.Settings(eventsExchange: system.topology.orderEvents)
        let applied = try await TestEnvironment.ordersDatabase { connection in
            try OrderApplier.apply(
                OrderPlaced(orderId: UUID(), lines: [OrderLine(productId: product, quantity: 1)], idempotencyKey: nil, acceptedAt: Date()),
                settings: settings, on: connection)
        }
        #expect(applied.status == .confirmed)
        return applied.orderId
    }

    private func outboxRouting(_ system: OrderSystemFixture) -> OutboxRouting {
        OutboxRouting(
            orderEvents: system.topology.orderEvents, vendorSyncQueue: system.topology.vendorSync.main,
            paymentsQueue: system.topology.payments.main, stockLevels: StockLevelPolicy(threshold: 5))
    }

    private func scan(
        _ order: UUID, _ status: String, tracking: String = "1Z999", carrier: String = "UPS", occurredAt: String? = nil,
        token: String? = WarehouseCallbackTests.token, to client: some TestClientProtocol
    ) async throws -> HTTPResult {
        var body = #"{"orderId":"\#(UUIDText.string(order))","trackingNumber":"\#(tracking)","carrier":"\#(carrier)","status":"\#(status)""#
        if let occurredAt { body += #","occurredAt":"\#(occurredAt)""# }
        body += "}"
        return try await post(body, token: token, to: client)
    }

    private func post(_ body: String, token: String? = WarehouseCallbackTests.token, to client: some TestClientProtocol) async throws -> HTTPResult {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await client.call(.post, "/webhooks/wms/shipments", headers: headers, body: Array(body.utf8))
    }

    private func history(_ order: UUID) async throws -> [RecordedTransition] {
        try await TestEnvironment.ordersDatabase { try OrderHistory.transitions(of: order, on: $0) }
    }

    @Test func callbacksNeedTheConfiguredToken() async throws {
        try await OrderSystemFixture.with { system in
            let order = try await confirmedOrder(system)
            try await app(system, token: nil).test(.router) { client in
                let unconfigured = try await scan(order, "SHIPPED", to: client)
                #expect(unconfigured.status == 503)
                #expect(unconfigured.json["code"] as? String == "webhooks-not-configured")
            }
            try await app(system).test(.router) { client in
                let missing = try await scan(order, "SHIPPED", token: nil, to: client)
                #expect(missing.status == 401)
                #expect(missing.contentType == "application/problem+json")
                let wrong = try await scan(order, "SHIPPED", token: "not-the-token", to: client)
                #expect(wrong.status == 403)
            }
            #expect(try await history(order).map(\.to) == [.confirmed], "a refused callback changes nothing")
        }
    }

    @Test func invalidBodiesAreRefusedNamingTheFields() async throws {
        try await OrderSystemFixture.with { system in
            let order = try await confirmedOrder(system)
            try await app(system).test(.router) { client in
                let empty = try await post("{}", to: client)
                #expect(empty.status == 400)
                let fields = Set((empty.json["errors"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String })
                #expect(fields == ["orderId", "trackingNumber", "carrier", "status"], "\(empty.text)")
                let lost = try await scan(order, "LOST", to: client)
                #expect(lost.status == 400)
                #expect(lost.text.contains("SHIPPED, IN_TRANSIT or DELIVERED"))
                let notAnId = try await post(#"{"orderId":"x","trackingNumber":"1","carrier":"UPS","status":"SHIPPED"}"#, to: client)
                #expect(notAnId.status == 400)
                #expect(notAnId.text.contains("must be a UUID"))
                let badTime = try await scan(order, "SHIPPED", occurredAt: "yesterday", to: client)
                #expect(badTime.status == 400)
                #expect(badTime.text.contains("occurredAt"))
                let notJSON = try await post("shipped", to: client)
                #expect(notJSON.status == 400)
                let unknown = try await scan(UUID(), "SHIPPED", to: client)
                #expect(unknown.status == 404)
            }
            #expect(try await history(order).map(\.to) == [.confirmed])
        }
    }

    /// Each scan in turn on a FULFILLING order: one transition each, the parcel's
    /// row following; `GET /orders/{id}` shows the parcel.
    @Test func scansMoveAFulfillingOrderThroughEachState() async throws {
        try await OrderSystemFixture.with { system in
            let order = try await confirmedOrder(system)
            let routing = outboxRouting(system)
            _ = try await TestEnvironment.ordersDatabase { try Fulfilment.started(order, routing: routing, on: $0) }
            try await app(system).test(.router) { client in
                for (status, expected) in [("SHIPPED", ["SHIPPED"]), ("IN_TRANSIT", ["IN_TRANSIT"]), ("DELIVERED", ["DELIVERED"])] {
                    let response = try await scan(order, status, occurredAt: "2026-03-01T10:00:00Z", to: client)
                    #expect(response.status == 200, "\(response.text)")
                    #expect(response.json["result"] as? String == "applied")
                    #expect(response.json["transitions"] as? [String] == expected)
                    #expect(response.json["shipment"] as? String == "recorded")
                }
                let shown = try await client.call(.get, "/orders/\(UUIDText.string(order))")
                let shipments = shown.json["shipments"] as? [[String: Any]]
                #expect(shipments?.count == 1)
                #expect(shipments?.first?["trackingNumber"] as? String == "1Z999")
                #expect(shipments?.first?["carrier"] as? String == "UPS")
                #expect(shipments?.first?["status"] as? String == "DELIVERED")
                #expect((shipments?.first?["updatedAt"] as? String)?.hasPrefix("2026-03-01T10:00:00") == true)
            }
            let transitions = try await history(order)
            #expect(transitions.map(\.to) == [.confirmed, .fulfilling, .shipped, .inTransit, .delivered])
            #expect(transitions.suffix(3).map(\.cause) == ["shipped", "in-transit", "delivered"])
        }
    }

    /// DELIVERED on a CONFIRMED order implies SHIPPED: two transitions, two events.
    /// A scan behind the order changes nothing, and an older scan of a parcel is ignored.
    @Test func aScanImpliesItsPredecessorsAndAStaleScanChangesNothing() async throws {
        try await OrderSystemFixture.with { system in
            let order = try await confirmedOrder(system)
            let otherOrder = try await confirmedOrder(system)
            try await app(system).test(.router) { client in
                let delivered = try await scan(order, "DELIVERED", to: client)
                #expect(delivered.status == 200, "\(delivered.text)")
                #expect(delivered.json["transitions"] as? [String] == ["SHIPPED", "DELIVERED"])
                let stale = try await scan(order, "IN_TRANSIT", to: client)
                #expect(stale.status == 200)
                #expect(stale.json["result"] as? String == "unchanged")
                #expect(stale.json["status"] as? String == "DELIVERED")
                #expect(stale.json["shipment"] as? String == "ignored")
                let secondParcel = try await scan(order, "SHIPPED", tracking: "1Z998", to: client)
                #expect(secondParcel.json["result"] as? String == "unchanged")
                #expect(secondParcel.json["shipment"] as? String == "recorded")
                let inTransit = try await scan(otherOrder, "IN_TRANSIT", to: client)
                #expect(inTransit.json["transitions"] as? [String] == ["SHIPPED", "IN_TRANSIT"])
            }
            #expect(try await history(order).map(\.to) == [.confirmed, .shipped, .delivered])
            let parcels = try await TestEnvironment.ordersDatabase { try Fulfilment.shipments(of: order, on: $0) }
            #expect(Dictionary(uniqueKeysWithValues: parcels.map { ($0.trackingNumber, $0.status) }) == ["1Z999": "DELIVERED", "1Z998": "SHIPPED"])
        }
    }

    /// A scan for a cancelled order is a conflict: nothing applied, the order flagged for review.
    @Test func aScanForACancelledOrderIsAConflictAndFlagsIt() async throws {
        try await OrderSystemFixture.with { system in
            let order = try await confirmedOrder(system)
            let routing = outboxRouting(system)
            _ = try await TestEnvironment.ordersDatabase {
                try OrderCommands.cancel(order, reason: nil, actor: .operator, queuedIfAbsent: false, routing: routing, on: $0)
            }
            try await app(system).test(.router) { client in
                let response = try await scan(order, "SHIPPED", to: client)
                #expect(response.status == 409)
                #expect(response.json["code"] as? String == "order-cancelled")
            }
            let details = try await TestEnvironment.ordersDatabase { try OrderQueries.order(order, on: $0)! }
            #expect(details.status == .cancelled)
            #expect(details.reviewRequired)
            #expect(details.reviewReason?.contains("1Z999 SHIPPED for a cancelled order") == true, "\(details.reviewReason ?? "")")
            #expect(details.shipments == nil)
        }
    }

    /// The transitions' events reach `order_events` (order.shipped, order.delivered) through the outbox relay.
    @Test func scanEventsArePublished() async throws {
        try await OrderSystemFixture.with { system in
            let order = try await confirmedOrder(system)
            let recorder = try await OrderEventRecorder.start(exchange: system.topology.orderEvents, bindingKey: "order.*")
            let (pool, relay) = try system.relay()
            let arrived = try await FixtureLifetime.running([pool, relay], logger: Self.quietLogger) {
                try await app(system).test(.router) { client in
                    let response = try await scan(order, "DELIVERED", to: client)
                    #expect(response.status == 200)
                }
                return try await recorder.waitForEvent(of: order, sequence: 3, timeout: .seconds(20))
            }
            await recorder.stop()
            #expect(arrived)
            let keys = Set(recorder.deliveries.filter { $0.orderId == order }.map(\.routingKey))
            #expect(keys.isSuperset(of: ["order.shipped", "order.delivered"]), "\(keys)")
        }
    }
}
