import Logging
import Messaging
import ServiceSupport
import Testing

/// The waits of a held window and of a reconnect: doubling from the lower bound to the cap, each drawn at random below its ceiling.
@Suite struct BackoffTests {
    @Test func theCeilingDoublesFromTheLowerBoundUpToTheCap() {
        var backoff = Backoff(.milliseconds(100)...(.seconds(5)))
        var ceilings: [Duration] = []
        for _ in 0..<9 {
            ceilings.append(backoff.ceiling)
            _ = backoff.next()
        }
        #expect(ceilings == [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000].map { .milliseconds($0) })
        #expect(backoff.attempts == 9)
    }

    @Test func eachWaitIsDrawnBetweenTheLowerBoundAndItsCeiling() {
        var generator = SystemRandomNumberGenerator()
        var backoff = Backoff(.milliseconds(100)...(.seconds(5)))
        for _ in 0..<20 {
            let ceiling = backoff.ceiling
            let wait = backoff.next(using: &generator)
            #expect(wait >= .milliseconds(100) && wait <= ceiling, "\(wait) above \(ceiling)")
        }

        // Full jitter: many waits at one attempt spread over the whole range, not around one value.
        var waits: [Duration] = []
        for _ in 0..<200 {
            var backoff = Backoff(.milliseconds(100)...(.seconds(5)))
            for _ in 0..<6 { _ = backoff.next(using: &generator) }
            waits.append(backoff.next(using: &generator))
        }
        #expect(waits.allSatisfy { $0 >= .milliseconds(100) && $0 <= .seconds(5) })
        #expect(waits.min()! < .milliseconds(1000) && waits.max()! > .milliseconds(4000), "\(waits.min()!) … \(waits.max()!)")
    }

    @Test func aFreshBackoffStartsAgainAtTheLowerBound() {
        var backoff = Backoff(.milliseconds(100)...(.seconds(5)))
        for _ in 0..<10 { _ = backoff.next() }
        #expect(backoff.ceiling == .seconds(5))
        backoff = Backoff(backoff.bounds)
        #expect(backoff.ceiling == .milliseconds(100))
        #expect(backoff.next() == .milliseconds(100))
    }

    @Test func equalBoundsWaitTheSameEveryTime() {
        var backoff = Backoff(.seconds(1)...(.seconds(1)))
        #expect((0..<5).map { _ in backoff.next() } == Array(repeating: .seconds(1), count: 5))
    }
}

/// What a process waits for: held by several loops, away from the first one's report until the last one's success.
@Suite struct DependencyStatusTests {
    @Test func aDependencyIsAwayUntilItsLastHolderGotThrough() throws {
        let status = DependencyStatus()
        #expect(status.isReady)
        #expect(status.enter("ordersdb", detail: "Connection refused"))
        let since = try #require(status.outages.first?.since)
        #expect(!status.enter("ordersdb", detail: "the database system is starting up"), "a second loop's report starts nothing")
        #expect(!status.isReady)
        #expect(status.outages.map { [$0.dependency, $0.detail] } == [["ordersdb", "the database system is starting up"]])
        #expect(status.outages.first?.since == since, "away since the first report")
        #expect(status.leave("ordersdb") == nil, "one loop still waits")
        #expect(status.outages.map(\.dependency) == ["ordersdb"])
        let duration = try #require(status.leave("ordersdb"))
        #expect(duration >= .zero)
        #expect(status.isReady)
        #expect(status.leave("ordersdb") == nil, "nothing to end twice")
    }

    @Test func theTrackerReportsEachOutageOnceWhateverTheTries() {
        let status = DependencyStatus()
        var first = OutageTracker(status: status), second = OutageTracker(status: status)
        var logger = Logger(label: "test-outage")
        logger.logLevel = .critical
        for _ in 0..<5 { first.unavailable("ordersdb", detail: "Connection refused", holding: "waiting", logger: logger) }
        second.unavailable("ordersdb", detail: "Connection refused", holding: "waiting", logger: logger)
        first.available(logger: logger)
        #expect(status.outages.map(\.dependency) == ["ordersdb"], "the second holder still waits")
        second.unavailable("vendor-database:vendorA", detail: "Connection refused", holding: "waiting", logger: logger)
        #expect(status.outages.map(\.dependency) == ["vendor-database:vendorA"], "a holder waits for one dependency at a time")
        second.abandon()
        #expect(status.isReady)
    }
}
