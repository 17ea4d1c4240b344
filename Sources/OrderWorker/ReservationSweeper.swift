import Instrumentation
import Logging
import Messaging
import Metrics
import OrderCore
import OrderStore
import Postgres
import ServiceLifecycle
import ServiceSupport
import Topology

/// Ends the reservations whose deadline passed, every `interval` until
/// shutdown: checkout holds become EXPIRED, orders still waiting on their
/// hold are cancelled with `reservation-expired`; their units come back to
/// available stock. Each batch is one transaction that skips rows another
/// transaction holds (`FOR UPDATE SKIP LOCKED`), so several order-worker
/// instances sweep side by side; a round goes on while batches come back full.
///
/// After each round it counts the reservations still held
/// (`reservations_held`); it counts the ones it ended
/// (`reservations_expired_total`) and the rounds that failed, leaving their
/// reservations held past their deadline (`reservation_release_failures_total`).
/// While the database is away it reports it on the process's
/// ``DependencyStatus`` and logs the outage once, not every pass.
public struct ReservationSweeper: Service {
    public struct Settings: Sendable, Hashable {
        public var interval: Duration
        public var batch: Int

        /// `SWEEPER_INTERVAL_SECONDS` (5) and `SWEEPER_BATCH` (100).
        public init(environment: EnvironmentConfiguration) throws {
            interval = .seconds(try environment.int(.sweeperIntervalSeconds, default: 5, in: 1...3600))
            batch = try environment.int(.sweeperBatch, default: 100, in: 1...10_000)
        }
    }

    let database: PostgresPool
    let settings: Settings
    let routing: OutboxRouting
    let logger: Logger
    let status: DependencyStatus
    private let held = Gauge(label: "reservations_held")
    private let expired = Counter(label: "reservations_expired_total")
    private let releaseFailures = Counter(label: "reservation_release_failures_total")

    public init(database: PostgresPool, settings: Settings, routing: OutboxRouting, logger: Logger, status: DependencyStatus = .process) {
        self.database = database
        self.settings = settings
        self.routing = routing
        self.logger = logger
        self.status = status
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            var outage = OutageTracker(status: status)
            defer { outage.abandon() }
            while !Task.isCancelled {
                do {
                    // A pass is its own trace: the cancellations and releases it sends carry it.
                    try await ServiceContext.withValue(.tracing(.newTrace())) { _ = try await sweep() }
                    outage.available(logger: logger)
                } catch let error as PostgresError where error.isUnavailable {
                    releaseFailures.increment()
                    outage.unavailable(
                        DependencyUnavailable.ordersDatabase, detail: error.reason, holding: "reservations are swept once it is back", logger: logger)
                } catch {
                    releaseFailures.increment()
                    logger.error("reservation sweep failed", metadata: [LogKey.error: "\(error)"])
                }
                // Its own failure is no failed release: the gauge keeps its last figure until the next pass.
                if let count = try? await database.withConnection({ try Reservations.activeCount(on: $0) }) { held.record(count) }
                try await Task.sleep(for: settings.interval)
            }
        }
    }

    /// One round: batches until none comes back full. Returns how many holds
    /// expired (checkout holds) and how many orders were cancelled.
    @discardableResult
    public func sweep() async throws -> (holds: Int, orders: Int) {
        let (batch, routing) = (settings.batch, routing)
        var total = (holds: 0, orders: 0)
        while !Task.isCancelled {
            let holds = try await database.withConnection { try Reservations.expireCheckoutHolds(limit: batch, routing: routing, on: $0) }
            let orders = try await database.withConnection { try Reservations.expireOrderHolds(limit: batch, routing: routing, on: $0) }
            total = (total.holds + holds, total.orders + orders)
            expired.increment(by: holds + orders)
            if holds < batch && orders < batch { break }
        }
        if total.holds + total.orders > 0 {
            logger.info("reservations expired", metadata: ["checkout_holds": "\(total.holds)", "orders_cancelled": "\(total.orders)"])
        }
        return total
    }
}
