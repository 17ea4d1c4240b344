import Foundation
import Logging
import Metrics
import OrderCore
import OrderStore
import Postgres
import ServiceSupport

/// The result of one run over every vendor.
public struct StockSyncReport: Sendable, Encodable {
    public struct Failure: Sendable, Encodable {
        public let vendor: String
        public let error: String
    }

    public struct Success: Sendable, Encodable {
        public let vendor: String
        public let products: Int
        public let unappliedUnits: Int
        public let heldUnits: Int
        /// Per product, the units the vendor reported too few (its figure was written as 0).
        public let shortfall: [String: Int]
        /// Movements the vendor had applied that ordersdb still showed PENDING, marked APPLIED by this run.
        public let reconciled: Int
    }

    public let synced: [Success]
    public let failed: [Failure]
}

/// One stock-sync run: every vendor in turn, under the advisory lock so two
/// stock-sync processes never run at the same time. A vendor that fails is
/// reported and the others still sync.
///
/// Each vendor's run is counted (`stock_sync_runs_total{vendor,result}`, ok
/// or failed); a successful one sets `stock_sync_unapplied_units{vendor}`
/// (the units held back from the vendor's figure: held here, or moved and
/// not yet applied there) and `stock_sync_last_success_timestamp_seconds{vendor}`,
/// and counts the movements it reconciled (applied at the vendor, PENDING
/// here, now APPLIED) in `stock_sync_reconciled_movements_total{vendor}` and,
/// as vendor-sync-worker's write-back does, `vendor_movements_applied_total{vendor}`.
public final class StockSyncRunner: Sendable {
    let local: PostgresPool
    let vendors: [(name: String, configuration: PostgresConfiguration)]
    let stockLevels: StockLevelPolicy
    let eventsExchange: String
    let logger: Logger
    private let metrics: [String: VendorMetrics]

    private struct VendorMetrics: Sendable {
        let ok: Counter
        let failed: Counter
        let unappliedUnits: Gauge
        let lastSuccess: Gauge
        let reconciled: Counter

        init(vendor: String) {
            ok = Counter(label: "stock_sync_runs_total", dimensions: [("vendor", vendor), ("result", "ok")])
            failed = Counter(label: "stock_sync_runs_total", dimensions: [("vendor", vendor), ("result", "failed")])
            unappliedUnits = Gauge(label: "stock_sync_unapplied_units", dimensions: [("vendor", vendor)])
            lastSuccess = Gauge(label: "stock_sync_last_success_timestamp_seconds", dimensions: [("vendor", vendor)])
            reconciled = Counter(label: "stock_sync_reconciled_movements_total", dimensions: [("vendor", vendor)])
        }

        func succeeded(_ success: StockSyncReport.Success) {
            ok.increment()
            reconciled.increment(by: success.reconciled)
            unappliedUnits.record(success.unappliedUnits + success.heldUnits)
            lastSuccess.record(Date().timeIntervalSince1970)
        }
    }

    public init(
        local: PostgresPool, vendors: [(name: String, configuration: PostgresConfiguration)], stockLevels: StockLevelPolicy,
        eventsExchange: String, logger: Logger
    ) {
        self.local = local
        self.vendors = vendors
        self.stockLevels = stockLevels
        self.eventsExchange = eventsExchange
        self.logger = logger
        metrics = Dictionary(vendors.map { ($0.name, VendorMetrics(vendor: $0.name)) }) { first, _ in first }
    }

    /// Runs once, waiting for a run that holds the lock to end first (one-shot runs, `POST /sync`, tests).
    public func run() async throws -> StockSyncReport {
        // A waiting run always gets the lock.
        try await run(wait: true)!
    }

    /// Runs once, unless another run holds the lock (then nil at once): the periodic loop.
    public func runIfIdle() async throws -> StockSyncReport? {
        try await run(wait: false)
    }

    private func run(wait: Bool) async throws -> StockSyncReport? {
        let vendors = vendors
        let stockLevels = stockLevels
        let eventsExchange = eventsExchange
        let logger = logger
        let metrics = metrics
        return try await local.withConnection { connection -> StockSyncReport? in
            guard try StockSynchronizer.lock(on: connection, wait: wait) else {
                logger.info("stock sync skipped: another run holds the lock")
                return nil
            }
            defer { try? StockSynchronizer.unlock(on: connection) }
            var synced: [StockSyncReport.Success] = []
            var failed: [StockSyncReport.Failure] = []
            for vendor in vendors {
                do {
                    let vendorDatabase = try PostgresConnection(configuration: vendor.configuration)
                    defer { vendorDatabase.close() }
                    let outcome = try StockSynchronizer.sync(
                        vendor: vendor.name, local: connection, vendorDatabase: vendorDatabase, stockLevels: stockLevels, eventsExchange: eventsExchange)
                    // Committed: the reconciled movements are APPLIED now.
                    outcome.reconciled.count()
                    if outcome.reconciled.total > 0 {
                        logger.info(
                            "movements the vendor had applied but ordersdb showed PENDING are now APPLIED",
                            metadata: [LogKey.vendor: "\(vendor.name)", "reconciled": "\(outcome.reconciled.total)"])
                    }
                    if !outcome.shortfall.isEmpty {
                        logger.warning(
                            "vendor reports fewer units than are held or unapplied; written as 0",
                            metadata: [LogKey.vendor: "\(vendor.name)", "shortfall": "\(outcome.shortfall)"])
                    }
                    let success = StockSyncReport.Success(
                        vendor: vendor.name, products: outcome.products, unappliedUnits: outcome.unappliedUnits,
                        heldUnits: outcome.heldUnits, shortfall: outcome.shortfall, reconciled: outcome.reconciled.total)
                    synced.append(success)
                    metrics[vendor.name]?.succeeded(success)
                } catch {
                    metrics[vendor.name]?.failed.increment()
                    logger.warning("stock sync failed for a vendor", metadata: [LogKey.vendor: "\(vendor.name)", LogKey.error: "\(error)"])
                    failed.append(.init(vendor: vendor.name, error: "\(error)"))
                }
            }
            logger.info("stock sync done", metadata: [LogKey.synced: "\(synced.map(\.vendor))", LogKey.failed: "\(failed.map(\.vendor))"])
            return StockSyncReport(synced: synced, failed: failed)
        }
    }
}
