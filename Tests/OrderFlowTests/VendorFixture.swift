import AMQP
import Foundation
import Logging
import OrderCore
import Postgres
import ServiceLifecycle
import ServiceSupport
import StockSync
import Testing
import TestSupport
import VendorSync

/// Vendor databases, vendor-sync-worker and stock-sync around an OrderSystemFixture.
extension OrderSystemFixture {
    static func vendorDatabase<T>(_ vendor: String, _ body: (PostgresConnection) throws -> T) throws -> T {
        let url = try require_(TestEnvironment.vendorDatabaseURLs.first { $0.vendor == vendor }?.url, "no URL for \(vendor)")
        let connection = try PostgresConnection(configuration: try PostgresConfiguration(url: url))
        defer { connection.close() }
        return try body(connection)
    }

    /// A product stocked the same at its vendors and locally (as after a sync).
    func vendorProduct(_ name: String, stock: [String: Int]) throws -> String {
        let id = try product(name, stock: stock)
        for (vendor, units) in stock {
            try Self.vendorDatabase(vendor) { try $0.query("INSERT INTO products (id, name, stock) VALUES ($1, $1, $2)", [id, units]) }
        }
        return id
    }

    func vendorStock(_ vendor: String, _ product: String) throws -> Int? {
        try Self.vendorDatabase(vendor) { try $0.query("SELECT stock FROM products WHERE id = $1", [product]).first?.decode(0, as: Int.self) }
    }

    /// The movements of one kind the vendor applied to the product: how many, and their units.
    func appliedMovements(_ vendor: String, _ product: String, kind: VendorMovement.Kind = .allocate) throws -> (count: Int, units: Int) {
        try Self.vendorDatabase(vendor) { connection in
            let row = try connection.query(
                "SELECT count(*)::int, coalesce(sum(quantity), 0)::int FROM applied_movements WHERE product_id = $1 AND kind = $2",
                [product, kind.rawValue]
            ).singleRow()
            return (try row.decode(0), try row.decode(1))
        }
    }

    /// Gives back the units of an order's allocations as a cancellation does:
    /// one PENDING restock per allocation the vendor did not refuse, and the
    /// local units, in one transaction; returns the restocks, for vendor_sync.
    func restockAll(_ orderId: UUID) throws -> [VendorMovement] {
        try Self.database { connection in
            try connection.withTransaction { connection in
                let restocks = try connection.query(
                    """
                    SELECT line_no, vendor_id, product_id, quantity FROM stock_movements
                    WHERE order_id = $1 AND kind = 'allocate' AND status <> 'CONFLICTED'
                    """, [orderId]
                ).rows.map { row in
                    (line: try row.decode(0, as: Int.self), movement: VendorMovement(
                        movementId: UUID(), kind: .restock, orderId: orderId, vendorId: try row.decode(1), productId: try row.decode(2), quantity: try row.decode(3)))
                }
                try Self.record(restocks, on: connection)
                return restocks.map(\.movement)
            }
        }
    }

    /// Writes restocks of order lines as a cancellation does: each movement
    /// PENDING and its units back in the local row (rows in lock order).
    static func record(_ restocks: [(line: Int, movement: VendorMovement)], on connection: PostgresConnection) throws {
        for (line, restock) in restocks.sorted(by: { ($0.movement.productId, $0.movement.vendorId) < ($1.movement.productId, $1.movement.vendorId) }) {
            try connection.query(
                "UPDATE vendor_stock SET stock = stock + $3 WHERE product_id = $1 AND vendor_id = $2", [restock.productId, restock.vendorId, restock.quantity])
            try connection.query(
                """
                INSERT INTO stock_movements (id, kind, status, order_id, line_no, vendor_id, product_id, quantity)
                VALUES ($1, 'restock', 'PENDING', $2, $3, $4, $5, $6)
                """, [restock.movementId, restock.orderId, line, restock.vendorId, restock.productId, restock.quantity])
        }
    }

    /// A vendor_sync message as order-worker and the outbox relay publish it.
    static func message(_ movement: VendorMovement) -> (body: [UInt8], properties: AMQPProperties) {
        (movement.encoded(), AMQPProperties(
            contentType: "application/json", deliveryMode: .persistent, correlationID: movement.orderId.uuidString.lowercased(),
            messageID: movement.movementId.uuidString.lowercased(), type: VendorMovement.messageType))
    }

    /// The movements vendor_sync messages carry, single or batched, in message
    /// order; a batch entry that does not decode fails the test.
    static func movements(in bodies: [[UInt8]]) throws -> [VendorMovement] {
        try bodies.flatMap { body in
            let decoded = try VendorMovementBatch.decode(body)
            try #require(decoded.invalid.isEmpty, "\(decoded.invalid)")
            return decoded.entries.map(\.movement)
        }
    }

    /// Starts vendor-sync-worker as a process of its own, to be stopped with SIGTERM or killed.
    func startVendorSyncProcess() throws -> ChildProcess {
        // At info it logs "starting" once it handles SIGTERM, which a test can wait for.
        try ChildProcess("vendor-sync-worker", environment: environment.merging(["LOG_LEVEL": "info"]) { $1 })
    }

    /// Runs the real vendor-sync-worker services until `body` returns.
    func withVendorSync<T>(_ overrides: [String: String] = [:], _ body: () async throws -> T) async throws -> T {
        let configuration = try VendorSyncConfiguration(environment: EnvironmentConfiguration(environment.merging(overrides) { $1 }))
        var logger = Logger(label: "test-vendor-sync")
        logger.logLevel = .warning
        return try await withServices(try VendorSyncApp(configuration: configuration, logger: logger).services, logger: logger, body)
    }

    /// One stock-sync run over every vendor (waiting for the lock if another test's run holds it).
    func stockSyncOnce(_ overrides: [String: String] = [:], retryingLockTimeouts: Bool = true) async throws -> StockSyncReport {
        let configuration = try StockSyncConfiguration(environment: EnvironmentConfiguration(environment.merging(overrides) { $1 }))
        var logger = Logger(label: "test-stock-sync")
        logger.logLevel = .error
        let app = try StockSyncApp(configuration: configuration, logger: logger, periodic: false)
        do {
            var report = try await app.runner.run()
            // Other tests hold rows of their own products for seconds on purpose (a
            // blocked worker), and a run gives up on a row it waits for too long
            // (55P03); the daemon's next interval runs again, and so does this.
            for _ in 0..<20 where retryingLockTimeouts && report.failed.contains(where: { $0.error.contains("55P03") }) {
                try await Task.sleep(for: .milliseconds(500))
                report = try await app.runner.run()
            }
            await app.shutdown()
            return report
        } catch {
            await app.shutdown()
            throw error
        }
    }

    /// Waits until every allocation of the given orders left PENDING.
    func waitForAllocationsSettled(_ ids: [UUID], timeout: Duration = .seconds(60)) async throws -> [String: Int] {
        let list = Self.arrayParameter(ids.map(\.uuidString))
        let deadline = ContinuousClock.now + timeout
        var counts: [String: Int] = [:]
        repeat {
            counts = try Self.database { connection in
                Dictionary(uniqueKeysWithValues: try connection.query(
                    "SELECT status, count(*)::int FROM stock_movements WHERE order_id = ANY($1::uuid[]) GROUP BY status", [list]
                ).rows.map { (try $0.decode(0, as: String.self), try $0.decode(1, as: Int.self)) })
            }
            if counts["PENDING", default: 0] == 0 { return counts }
            try await Task.sleep(for: .milliseconds(200))
        } while ContinuousClock.now < deadline
        return counts
    }
}

struct MissingValue: Error, CustomStringConvertible {
    let description: String
}

/// `#require` for helpers outside a test body.
func require_<T>(_ value: T?, _ message: String) throws -> T {
    guard let value else { throw MissingValue(description: message) }
    return value
}

/// Services running in the background of a test until it stops them gracefully.
final class RunningServices: Sendable {
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    init(_ services: [any Service], logger: Logger) {
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, logger: logger))
        self.group = group
        task = Task { try await group.run() }
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}
