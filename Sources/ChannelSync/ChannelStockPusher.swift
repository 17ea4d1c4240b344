import Logging
import Messaging
import OrderStore
import Postgres
import ServiceSupport
import Shopify
import Synchronization

/// Tells the channel our available figure of each mapped product. A pass
/// sends only the figures that differ from what the channel last accepted
/// (`channel_stock`), each as an absolute `inventory_levels/set`, so however
/// many orders touched a product between two passes it costs one push, and a
/// push repeated after a crash sets the same figure again. Every call goes
/// through the circuit breaker: while it is open the calls are not made and
/// the figures wait for a later pass.
public final class ChannelStockPusher: Sendable {
    /// What one pass did.
    public struct Report: Sendable, Hashable {
        /// Figures the channel accepted (and `channel_stock` now holds).
        public var pushed = 0
        /// Transient failures: tried again next pass.
        public var failed = 0
        /// Refused by the channel (a 4xx): not tried again until our figure changes.
        public var refused = 0
        /// Not called because the breaker refused.
        public var deferred = 0
        /// Products whose channel figure differed from ours when read (reconciliation only).
        public var drift = 0

        public init() {}
    }

    let channel: String
    let locationId: Int64
    let client: ShopifyAdminClient
    public let breaker: CircuitBreaker
    let database: PostgresPool
    let concurrency: Int
    let logger: Logger
    /// The figure the channel refused for each product: sending it again would
    /// be refused again, so it waits until our figure changes.
    private let refusals = Mutex<[String: Int]>([:])

    public init(
        channel: String, locationId: Int64, client: ShopifyAdminClient, breaker: CircuitBreaker, database: PostgresPool, concurrency: Int,
        logger: Logger
    ) {
        self.channel = channel
        self.locationId = locationId
        self.client = client
        self.breaker = breaker
        self.database = database
        self.concurrency = max(1, concurrency)
        self.logger = logger
    }

    /// Pushes every figure that differs from the one the channel last accepted.
    public func push() async throws -> Report {
        let channel = channel
        let items = try await database.withConnection { try ChannelStock.items(channel: channel, on: $0) }
        let refused = refusals.withLock { $0 }
        let report = await send(items.filter { $0.differs && refused[$0.productId] != $0.available })
        if report != Report() {
            logger.info("channel stock pushed", metadata: metadata(report))
        }
        return report
    }

    /// Reads the channel's own figure of every mapped product and pushes ours
    /// wherever they differ: corrects what a lost push, or a change made in
    /// the shop's admin, left wrong.
    public func reconcile() async throws -> Report {
        let channel = channel
        let items = try await database.withConnection { try ChannelStock.items(channel: channel, on: $0) }
        // No call to make, so no admission to ask for: a half-open breaker's trial
        // admitted here would never be answered.
        guard !items.isEmpty else { return Report() }
        guard breaker.admit() != .refused else {
            logger.warning("stock reconciliation skipped: the channel's circuit breaker is open", metadata: [LogKey.breaker: "\(breaker.dependency.rawValue)"])
            var report = Report()
            report.deferred = 1
            return report
        }
        let levels: [ShopifyAdminClient.InventoryLevel]
        do {
            levels = try await client.inventoryLevels(locationId: locationId, inventoryItemIds: items.map(\.inventoryItemId))
            breaker.recordSuccess()
        } catch {
            if error.isTransient { breaker.recordFailure() } else { breaker.recordSuccess() }
            throw error
        }
        var theirs: [Int64: Int] = [:]
        for level in levels { theirs[level.inventoryItemId] = level.available }
        let drifted = items.filter { theirs[$0.inventoryItemId] != $0.available }
        // A figure the channel holds right but channel_stock does not is only recorded.
        let agreeing = items.filter { theirs[$0.inventoryItemId] == $0.available && $0.pushed != $0.available }
        if !agreeing.isEmpty {
            try await database.withConnection { connection in
                for item in agreeing { try ChannelStock.record(channel: channel, productId: item.productId, available: item.available, on: connection) }
            }
        }
        refusals.withLock { $0.removeAll() }
        var report = await send(drifted)
        report.drift = drifted.count
        logger.log(
            level: drifted.isEmpty ? .info : .warning, "channel stock reconciled",
            metadata: metadata(report).merging(["checked": "\(items.count)"]) { $1 })
        return report
    }

    /// Sets each item's figure, `concurrency` at a time, recording each the channel accepted.
    private func send(_ items: [ChannelStock.Item]) async -> Report {
        var report = Report()
        await withTaskGroup(of: Outcome.self) { group in
            var next = items.makeIterator()
            func startNext() -> Bool {
                guard let item = next.next() else { return false }
                group.addTask { await self.send(item) }
                return true
            }
            for _ in 0..<concurrency where !startNext() { break }
            for await outcome in group {
                switch outcome {
                case .pushed: report.pushed += 1
                case .failed: report.failed += 1
                case .refused: report.refused += 1
                case .deferred: report.deferred += 1
                }
                _ = startNext()
            }
        }
        if report.deferred > 0 {
            logger.warning(
                "channel stock push deferred: the channel's circuit breaker is open",
                metadata: [LogKey.breaker: "\(breaker.dependency.rawValue)", "deferred": "\(report.deferred)"])
        }
        return report
    }

    private enum Outcome { case pushed, failed, refused, deferred }

    private func send(_ item: ChannelStock.Item) async -> Outcome {
        guard breaker.admit() != .refused else { return .deferred }
        do {
            try await client.setInventoryLevel(locationId: locationId, inventoryItemId: item.inventoryItemId, available: item.available)
        } catch {
            let metadata: Logger.Metadata = [
                LogKey.product: "\(item.productId)", "inventory_item_id": "\(item.inventoryItemId)", "available": "\(item.available)",
                LogKey.error: "\(error)",
            ]
            if error.isTransient {
                breaker.recordFailure()
                logger.warning("channel stock push failed; tried again next pass", metadata: metadata)
                return .failed
            }
            // The channel answered: it is up, and this figure will not be taken.
            breaker.recordSuccess()
            refusals.withLock { $0[item.productId] = item.available }
            logger.error("channel refused a stock figure; not sent again until it changes", metadata: metadata)
            return .refused
        }
        breaker.recordSuccess()
        refusals.withLock { _ = $0.removeValue(forKey: item.productId) }
        let (channel, productId, available) = (channel, item.productId, item.available)
        do {
            try await database.withConnection { try ChannelStock.record(channel: channel, productId: productId, available: available, on: $0) }
        } catch {
            // The channel has the figure; the next pass sends it again, which changes nothing there.
            logger.warning("channel stock push not recorded", metadata: [LogKey.product: "\(productId)", LogKey.error: "\(error)"])
        }
        return .pushed
    }

    private func metadata(_ report: Report) -> Logger.Metadata {
        [
            "channel": "\(channel)", "pushed": "\(report.pushed)", "failed": "\(report.failed)", "refused": "\(report.refused)",
            "deferred": "\(report.deferred)", "drift": "\(report.drift)", LogKey.breakerState: "\(breaker.state.rawValue)",
        ]
    }
}
