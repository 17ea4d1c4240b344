import Foundation
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

/// One committed transition as `order_transitions` holds it and as its
/// `order_events` message must announce it.
struct HistoryRow: Sendable, Hashable {
    let orderId: UUID
    let sequence: Int
    let eventId: UUID
    let from: String
    let to: String
}

/// A `stock_movements` row.
struct LedgerMovement: Sendable, Hashable {
    let id: UUID
    let kind: String
    let status: String
    let orderId: UUID?
    let reservationId: UUID?
    let vendorId: String
    let productId: String
    let quantity: Int

    /// Its effect on local available stock (allocate and hold take, release and restock give back).
    var stockDelta: Int { kind == "allocate" || kind == "hold" ? -quantity : quantity }
}

/// A movement a vendor database recorded as applied.
struct AppliedMovement: Sendable, Hashable {
    let id: UUID
    let kind: String
    let productId: String
    let quantity: Int
}

/// What the order lifecycle tests need around an OrderSystemFixture: the
/// configuration of the lifecycle features, the API with its token, the
/// worker as a process, the ledger, the history, and the steps no route takes
/// yet (the warehouse's shipped / delivered).
extension OrderSystemFixture {
    static let apiToken = "lifecycle-test-token-0123456789"

    /// The lifecycle features' settings, for the API and the worker alike (each
    /// ignores the others'): wherever the sweeper and the outbox relay run, they
    /// run fast enough for a test.
    var lifecycleEnvironment: [String: String] {
        environment.merging([
            "ORDER_ID_SECRET": "lifecycle-test-order-id-secret-0123456789abcdef",
            "API_TOKEN": Self.apiToken,
            "RESERVATION_TTL_SECONDS": "900",
            "SWEEPER_INTERVAL_SECONDS": "1",
            "LOW_STOCK_THRESHOLD": "5",
            "LOG_LEVEL": "warning",
        ]) { $1 }
    }

    /// Runs order-api in-process (its services too: the pool, the publisher,
    /// anything periodic it runs) for the duration of `body`.
    func withLifecycleAPI<T>(
        _ body: @Sendable (LifecycleClient) async throws -> T
    ) async throws -> T {
        var logger = Logger(label: "test-order-api")
        logger.logLevel = .warning
        let configuration = try OrderAPIConfiguration(environment: EnvironmentConfiguration(lifecycleEnvironment))
        let app = try buildOrderAPI(configuration: configuration, logger: logger)
        return try await app.test(.router) { client in
            try await body(LifecycleClient(client: client, token: Self.apiToken))
        }
    }

    /// The order worker's: the lifecycle settings, and windows of 50 over four loops.
    var lifecycleWorkerEnvironment: [String: String] {
        lifecycleEnvironment.merging(["WORKER_CONCURRENCY": "4", "WORKER_PREFETCH": "100", "WORKER_BATCH_SIZE": "50"]) { $1 }
    }

    /// order-worker as a real process (to be SIGKILLed and started again).
    func startWorkerProcess() throws -> ChildProcess {
        try ChildProcess("order-worker", environment: lifecycleWorkerEnvironment)
    }

    // MARK: History

    /// The committed history of each order that has a row (orders without one are absent).
    func history(of orders: [UUID]) throws -> [UUID: [HistoryRow]] {
        guard !orders.isEmpty else { return [:] }
        return try Self.database { connection in
            var history: [UUID: [HistoryRow]] = [:]
            for order in try connection.query("SELECT id FROM orders WHERE id = ANY($1::uuid[])", [Self.arrayParameter(orders.map(\.uuidString))]).rows {
                history[try order.decode(0, as: UUID.self)] = []
            }
            for row in try connection.query(
                "SELECT order_id, seq, event_id, from_status, to_status FROM order_transitions WHERE order_id = ANY($1::uuid[]) ORDER BY order_id, seq",
                [Self.arrayParameter(orders.map(\.uuidString))]
            ).rows {
                let entry = HistoryRow(orderId: try row.decode(0), sequence: try row.decode(1), eventId: try row.decode(2), from: try row.decode(3), to: try row.decode(4))
                history[entry.orderId, default: []].append(entry)
            }
            return history
        }
    }

    /// Status, reason and `last_seq` of each order that has a row.
    func orderRows(_ orders: [UUID]) throws -> [UUID: (status: String, reason: String?, lastSequence: Int)] {
        guard !orders.isEmpty else { return [:] }
        return try Self.database { connection in
            var rows: [UUID: (status: String, reason: String?, lastSequence: Int)] = [:]
            for row in try connection.query(
                "SELECT id, status, reason, last_seq FROM orders WHERE id = ANY($1::uuid[])", [Self.arrayParameter(orders.map(\.uuidString))]
            ).rows {
                rows[try row.decode(0)] = (try row.decode(1), try row.decode(2, as: String?.self), try row.decode(3))
            }
            return rows
        }
    }

    /// Units returned per (order, product), from `order_lines.returned_quantity`.
    func returnedUnits(_ orders: [UUID]) throws -> [UUID: [String: Int]] {
        guard !orders.isEmpty else { return [:] }
        return try Self.database { connection in
            var units: [UUID: [String: Int]] = [:]
            for row in try connection.query(
                "SELECT order_id, product_id, sum(returned_quantity)::int FROM order_lines WHERE order_id = ANY($1::uuid[]) GROUP BY order_id, product_id",
                [Self.arrayParameter(orders.map(\.uuidString))]
            ).rows {
                units[try row.decode(0), default: [:]][try row.decode(1)] = try row.decode(2)
            }
            return units
        }
    }

    /// Moves a CONFIRMED order to DELIVERED as the warehouse's callbacks will:
    /// each step decided by OrderLifecycle and recorded by OrderHistory, and, as
    /// for every transition no incoming message drives, the order's history
    /// written to the outbox in the same transaction.
    func shipAndDeliver(_ order: UUID) throws {
        try Self.database { connection in
            try connection.withTransaction { connection in
                var state = try Self.lockedState(order, on: connection)
                for event in [OrderEvent.shipped, .delivered] {
                    guard case .transition(let transition) = OrderLifecycle.decide(state, event) else {
                        throw LifecycleStepRefused(order: order, state: state, event: event.name)
                    }
                    try OrderHistory.record(transition, orderId: order, actor: .system, on: connection)
                    state = transition.to
                }
                try Outbox.enqueue(OrderHistory.eventMessages(of: order, exchange: topology.orderEvents, on: connection), on: connection)
            }
        }
    }

    /// A cancel of `order` carried out as the API would (transition, history,
    /// outbox), in a transaction that then fails: nothing of it may survive or
    /// be published. Returns the sequence number the rolled-back transition had.
    func rolledBackCancel(_ order: UUID) throws -> Int {
        let recorded = try Self.database { connection in
            var sequence: Int?
            do {
                try connection.withTransaction { connection in
                    let state = try Self.lockedState(order, on: connection)
                    guard case .transition(let transition) = OrderLifecycle.decide(state, .cancel(reason: "rolled back")) else {
                        throw LifecycleStepRefused(order: order, state: state, event: "cancel")
                    }
                    let recorded = try OrderHistory.record(transition, orderId: order, actor: .operator, on: connection)
                    try Outbox.enqueue(OrderHistory.eventMessages(of: order, exchange: topology.orderEvents, on: connection), on: connection)
                    sequence = recorded.sequence
                    throw DeliberateRollback()
                }
            } catch is DeliberateRollback {}
            return sequence
        }
        return try require_(recorded, "the rolled-back cancel recorded nothing")
    }

    private static func lockedState(_ order: UUID, on connection: PostgresConnection) throws -> OrderState {
        let raw = try connection.query("SELECT status FROM orders WHERE id = $1 FOR UPDATE", [order]).singleRow().decode(0, as: String.self)
        return try require_(OrderState(rawValue: raw), "order \(order) has status \(raw)")
    }

    // MARK: Progress

    /// Waits until at least `count` of the orders `ids()` names have a row; returns how many do.
    func waitForDecided(atLeast count: Int, of ids: () -> [UUID], timeout: Duration) async throws -> Int {
        let deadline = ContinuousClock.now + timeout
        var decided = 0
        repeat {
            decided = try statuses(ids()).count
            if decided >= count { return decided }
            try await Task.sleep(for: .milliseconds(100))
        } while ContinuousClock.now < deadline
        return decided
    }

    /// Waits until every order has a row that is no longer QUEUED; false on timeout.
    func waitUntilDecided(_ ids: [UUID], timeout: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        repeat {
            let statuses = try statuses(ids)
            if statuses.count == Set(ids).count, !statuses.values.contains("QUEUED") { return true }
            try await Task.sleep(for: .milliseconds(250))
        } while ContinuousClock.now < deadline
        return false
    }

    // MARK: Ledger

    /// Every movement of `products`.
    func ledger(_ products: [String]) throws -> [LedgerMovement] {
        try Self.database { connection in
            try connection.query(
                """
                SELECT id, kind, status, order_id, reservation_id, vendor_id, product_id, quantity
                FROM stock_movements WHERE product_id = ANY($1::text[])
                """, [Self.arrayParameter(products)]
            ).rows.map { row in
                LedgerMovement(
                    id: try row.decode(0), kind: try row.decode(1), status: try row.decode(2), orderId: try row.decode(3, as: UUID?.self),
                    reservationId: try row.decode(4, as: UUID?.self), vendorId: try row.decode(5), productId: try row.decode(6), quantity: try row.decode(7))
            }
        }
    }

    /// Status of each reservation.
    func reservationStatuses(_ reservations: [UUID]) throws -> [UUID: String] {
        guard !reservations.isEmpty else { return [:] }
        return try Self.database { connection in
            Dictionary(uniqueKeysWithValues: try connection.query(
                "SELECT id, status FROM reservations WHERE id = ANY($1::uuid[])", [Self.arrayParameter(reservations.map(\.uuidString))]
            ).rows.map { (try $0.decode(0, as: UUID.self), try $0.decode(1, as: String.self)) })
        }
    }

    /// Outbox rows about `order` (its events, its vendor_sync movements): their correlation id.
    func outboxRows(of order: UUID) throws -> Int {
        try Self.database { connection in
            try connection.query("SELECT count(*)::int FROM outbox WHERE correlation_id = $1", [order.uuidString.lowercased()]).singleRow().decode(0)
        }
    }

    /// Messages this fixture's topology still has in the outbox (order and
    /// inventory events, vendor_sync movements).
    func outboxBacklog() throws -> Int {
        try Self.database { connection in
            try connection.query(
                "SELECT count(*)::int FROM outbox WHERE exchange = $1 OR (exchange = '' AND routing_key = $2)",
                [topology.orderEvents, topology.vendorSync.main]
            ).singleRow().decode(0)
        }
    }

    /// The movements a vendor database applied for `products`.
    func appliedMovements(_ vendor: String, _ products: [String]) throws -> [AppliedMovement] {
        try Self.vendorDatabase(vendor) { connection in
            try connection.query(
                "SELECT movement_id, kind, product_id, quantity FROM applied_movements WHERE product_id = ANY($1::text[])", [Self.arrayParameter(products)]
            ).rows.map { AppliedMovement(id: try $0.decode(0), kind: try $0.decode(1), productId: try $0.decode(2), quantity: try $0.decode(3)) }
        }
    }

    /// Waits until nothing of this fixture is in motion: the order and vendor_sync
    /// queues empty, no PENDING movement of `products`, none of `reservations`
    /// ACTIVE, nothing of the fixture's in the outbox. Returns what was still
    /// moving at the timeout, or nil.
    func waitForQuiescence(products: [String], reservations: [UUID], timeout: Duration) async throws -> String? {
        let deadline = ContinuousClock.now + timeout
        var moving: [String] = []
        repeat {
            moving = []
            for queue in [topology.orders.main, topology.orders.retry, topology.vendorSync.main, topology.vendorSync.retry] {
                let depth = try await depth(queue)
                if depth > 0 { moving.append("\(queue): \(depth)") }
            }
            let pending = try ledger(products).filter { $0.status == "PENDING" }.count
            if pending > 0 { moving.append("\(pending) PENDING movements") }
            let active = try reservationStatuses(reservations).values.filter { $0 == "ACTIVE" }.count
            if active > 0 { moving.append("\(active) ACTIVE reservations") }
            let backlog = try outboxBacklog()
            if backlog > 0 { moving.append("\(backlog) outbox rows") }
            if moving.isEmpty { return nil }
            try await Task.sleep(for: .milliseconds(500))
        } while ContinuousClock.now < deadline
        return moving.joined(separator: ", ")
    }
}

struct LifecycleStepRefused: Error, CustomStringConvertible {
    let order: UUID
    let state: OrderState
    let event: String
    var description: String { "\(event) does not apply to order \(order) in \(state.rawValue)" }
}

private struct DeliberateRollback: Error {}
