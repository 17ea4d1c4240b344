import Logging
import Messaging
import OrderStore
import Postgres
import Synchronization
import Testing
import VendorSync

/// The per-vendor breaker and postpone decision, with a clock the test moves: no database, no waiting.
@Suite struct VendorBreakersTests {
    /// The breakers' clock.
    private final class Clock: Sendable {
        let now = Mutex(ContinuousClock.now)
    }

    private let clock = Clock()
    private let breakers: VendorBreakers

    private static let away = PostgresError(kind: .connection, code: .connectionFailure, message: "Connection refused")

    init() {
        let clock = clock
        breakers = VendorBreakers(
            vendors: ["vendorA", "vendorB"], policy: CircuitBreaker.Policy(failureThreshold: 2, openDuration: .seconds(5)),
            logger: Logger(label: "test-vendor-breakers"), now: { clock.now.withLock { $0 } })
    }

    private func advance(_ seconds: Int) { clock.now.withLock { $0 = $0 + .seconds(seconds) } }

    private func window(_ results: [Result<VendorApplyResult, any Error>], at vendor: String) -> [DeliveryOutcome?] {
        #expect(breakers.admit(vendor), "\(vendor)'s window may call its database")
        return breakers.record(vendor, results)
    }

    @Test func oneVendorAwayPostponesItsMovementsWithoutARetryAndOpensOnlyItsBreaker() {
        for _ in 0..<2 {
            let outcomes = window([.failure(Self.away), .failure(Self.away)], at: "vendorA")
            for outcome in outcomes {
                guard case .postpone(let reason, _) = outcome else {
                    Issue.record("an unavailable vendor database must postpone, not \(String(describing: outcome))")
                    continue
                }
                #expect(reason == "vendor-database-unavailable")
            }
            #expect(window([.success(.applied)], at: "vendorB") == [nil], "vendorB's movements go through")
        }
        #expect(breakers.state(of: "vendorA") == .open)
        #expect(breakers.state(of: "vendorB") == .closed)
        #expect(!breakers.admit("vendorA"), "open: no database call at all")
        #expect(breakers.admit("vendorB"))
        guard case .postpone(let reason, _) = VendorBreakers.postponed("vendorA") else {
            Issue.record("a refused vendor's movements are postponed")
            return
        }
        #expect(reason == "vendor-database-unavailable")
    }

    @Test func halfOpenLetsOneTrialWindowThroughAndItsAnswerDecides() {
        for _ in 0..<2 { _ = window([.failure(Self.away)], at: "vendorA") }
        advance(4)
        #expect(!breakers.admit("vendorA"), "still open")
        advance(1)
        #expect(breakers.admit("vendorA"), "the trial")
        #expect(!breakers.admit("vendorA"), "one trial at a time")
        _ = breakers.record("vendorA", [Result<VendorApplyResult, any Error>.failure(Self.away)])
        #expect(breakers.state(of: "vendorA") == .open, "a failed trial opens it again")
        advance(5)
        #expect(breakers.admit("vendorA"))
        #expect(breakers.record("vendorA", [Result<VendorApplyResult, any Error>.success(.alreadyApplied)]) == [nil])
        #expect(breakers.state(of: "vendorA") == .closed)
        #expect(breakers.admit("vendorA"))
    }

    @Test(arguments: [
        (PostgresError(kind: .connection, message: "server closed the connection unexpectedly"), true),
        (PostgresError(kind: .server, code: .adminShutdown, message: "terminating connection due to administrator command"), true),
        (PostgresError(kind: .server, code: .cannotConnectNow, message: "the database system is starting up"), true),
        (PostgresError(kind: .server, code: .tooManyConnections, message: "too many clients already"), true),
        (PostgresError(kind: .server, code: .deadlockDetected, message: "deadlock detected"), false),
        (PostgresError(kind: .server, code: .serializationFailure, message: "could not serialize access"), false),
        (PostgresError(kind: .server, code: .lockNotAvailable, message: "canceling statement due to lock timeout"), false),
        (PostgresError(kind: .server, code: .checkViolation, message: "new row violates check constraint"), false),
    ])
    func aMessageSpecificErrorIsRetriedAndCountsNoFailure(error: PostgresError, away: Bool) {
        // Three windows in a row: past the threshold if (and only if) each counts as the database being away.
        for _ in 0..<3 {
            guard breakers.admit("vendorA") else { break }
            let outcome = breakers.record("vendorA", [Result<VendorApplyResult, any Error>.failure(error), .success(.applied)])
            #expect(outcome[1] == nil)
            switch outcome[0] {
            case .postpone(let reason, _): #expect(away && reason == "vendor-database-unavailable", "\(error)")
            case .retry(let reason, _): #expect(!away && reason == "vendor-database-error", "\(error)")
            default: Issue.record("\(error): \(String(describing: outcome[0]))")
            }
        }
        #expect(breakers.state(of: "vendorA") == (away ? .open : .closed), "\(error)")
    }

    @Test func aVendorWithoutABreakerIsNeverCalled() {
        #expect(!breakers.admit("vendorC"))
        #expect(breakers.state(of: "vendorC") == nil)
    }
}
