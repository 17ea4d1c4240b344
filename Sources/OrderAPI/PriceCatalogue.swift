import Logging
import OrderCore
import OrderStore
import Postgres
import ServiceLifecycle
import ServiceSupport
import Synchronization

/// Every product's price as order-api last read it, so the intake of a paying
/// order asks the database nothing while the catalogue is warm.
///
/// A `Service`: its `run` reloads it every `refreshInterval`. Accepting is
/// always safe, since the order worker computes the amount from the prices
/// in the database and rejects what it cannot price; so an order the catalogue
/// finds nothing against (a product it does not know yet included) is
/// accepted at once. A refusal is confirmed against the database for the
/// order's products alone (a primary-key read, and refusals are rare), so a
/// price set a moment ago is seen; with the database away it stands only on
/// prices loaded within `staleAfter`, beyond that the intake keeps accepting.
/// Until the first load, every lookup waits for it.
final class PriceCatalogue: Service, Sendable {
    enum Verdict: Sendable, Hashable {
        case accepted
        /// The products (of the order) that have no price.
        case unpriced([String])
        /// The currencies the order's products are priced in, sorted.
        case mixedCurrency([String])
    }

    private struct State {
        var prices: [String: Money?] = [:]
        var loadedAt: ContinuousClock.Instant?
        /// While a load runs: the callers waiting for it.
        var waiting: [CheckedContinuation<Void, Never>]?
    }

    private let database: PostgresPool
    private let refreshInterval: Duration
    private let staleAfter: Duration
    private let logger: Logger
    private let state = Mutex(State())

    init(database: PostgresPool, refreshInterval: Duration = .seconds(5), logger: Logger) {
        self.database = database
        self.refreshInterval = refreshInterval
        staleAfter = refreshInterval * 3
        self.logger = logger
    }

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await self.reload()
                try await Task.sleep(for: self.refreshInterval)
            }
        }
    }

    /// Whether an order of these products can be paid for in one currency.
    func check(_ productIds: [String]) async -> Verdict {
        if judge(productIds).age == nil { await reload() }
        let (verdict, age) = judge(productIds)
        guard verdict != .accepted else { return .accepted }
        do {
            let current = try await database.withConnection { try ProductPrices.of(productIds, on: $0) }
            state.withLock { state in
                for (id, price) in current { state.prices.updateValue(price, forKey: id) }
            }
            return judge(productIds).0
        } catch {
            logger.warning("price check not confirmed", metadata: [LogKey.error: "\(error)"])
            return age.map { $0 < staleAfter } == true ? verdict : .accepted
        }
    }

    /// The verdict on the prices held, and how long ago they were loaded (nil: never).
    /// A product the catalogue does not know is no reason to refuse: the
    /// worker rejects an unknown product as it does for any order.
    private func judge(_ productIds: [String]) -> (Verdict, age: Duration?) {
        state.withLock { state in
            let age = state.loadedAt.map { ContinuousClock.now - $0 }
            var unpriced: [String] = []
            var currencies: Set<String> = []
            for id in productIds {
                switch state.prices[id] {
                case nil: continue
                case .some(nil): if !unpriced.contains(id) { unpriced.append(id) }
                case .some(let price?): currencies.insert(price.currency)
                }
            }
            if !unpriced.isEmpty { return (.unpriced(unpriced), age) }
            if currencies.count > 1 { return (.mixedCurrency(currencies.sorted()), age) }
            return (.accepted, age)
        }
    }

    /// One load at a time: a caller that comes while one runs waits for its result.
    private func reload() async {
        let started = ContinuousClock.now
        let leads = state.withLock { state in
            guard state.waiting == nil else { return false }
            state.waiting = []
            return true
        }
        guard leads else {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let queued = state.withLock { state in
                    state.waiting?.append(continuation)
                    return state.waiting != nil
                }
                if !queued { continuation.resume() }
            }
            return
        }
        var loaded: [String: Money?]?
        do {
            loaded = try await database.withConnection { try ProductPrices.all(on: $0) }
        } catch {
            logger.warning("price catalogue not loaded", metadata: [LogKey.error: "\(error)"])
        }
        let waiting = state.withLock { state in
            if let loaded {
                state.prices = loaded
                state.loadedAt = started
            }
            defer { state.waiting = nil }
            return state.waiting ?? []
        }
        for continuation in waiting { continuation.resume() }
    }
}
