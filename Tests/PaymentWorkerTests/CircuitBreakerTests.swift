import Logging
import Messaging
import ServiceSupport
import Synchronization
import TestSupport
import Testing

/// The breaker's states with a clock the test moves: no waiting.
@Suite struct CircuitBreakerTests {
    let start = ContinuousClock.now
    let policy = CircuitBreaker.Policy(failureThreshold: 3, openDuration: .seconds(10))

    private func at(_ seconds: Int) -> ContinuousClock.Instant { start + .seconds(seconds) }

    @Test func itOpensAfterTheThresholdOfConsecutiveFailuresAndRefusesCalls() {
        var logic = CircuitBreaker.Logic(policy: policy)
        #expect(logic.admit(now: at(0)).admission == .allowed)
        #expect(logic.recordFailure(now: at(0)) == nil)
        #expect(logic.recordFailure(now: at(0)) == nil)
        #expect(logic.state == .closed)
        #expect(logic.recordFailure(now: at(1)) == .open)
        #expect(logic.state == .open)
        #expect(logic.admit(now: at(1)).admission == .refused)
        #expect(logic.admit(now: at(10)).admission == .refused, "open for ten seconds from the failure that opened it")
    }

    @Test func aSuccessResetsTheCountOfFailures() {
        var logic = CircuitBreaker.Logic(policy: policy)
        _ = logic.recordFailure(now: at(0))
        _ = logic.recordFailure(now: at(0))
        _ = logic.recordSuccess(now: at(0))
        #expect(logic.failures == 0)
        _ = logic.recordFailure(now: at(0))
        _ = logic.recordFailure(now: at(0))
        #expect(logic.state == .closed, "two failures after a success are not three in a row")
    }

    @Test func afterTheOpenTimeOneTrialGoesThroughAndItsSuccessCloses() {
        var logic = CircuitBreaker.Logic(policy: policy)
        for _ in 0..<3 { _ = logic.recordFailure(now: at(0)) }
        let trial = logic.admit(now: at(10))
        #expect(trial.admission == .trial)
        #expect(trial.changed == .halfOpen)
        #expect(logic.admit(now: at(10)).admission == .refused, "one trial at a time")
        #expect(logic.admit(now: at(11)).admission == .refused)
        #expect(logic.recordSuccess(now: at(11)) == .closed)
        #expect(logic.admit(now: at(11)).admission == .allowed)
        #expect(logic.failures == 0)
    }

    @Test func aFailedTrialOpensItAgainForTheWholeOpenTime() {
        var logic = CircuitBreaker.Logic(policy: policy)
        for _ in 0..<3 { _ = logic.recordFailure(now: at(0)) }
        #expect(logic.admit(now: at(12)).admission == .trial)
        #expect(logic.recordFailure(now: at(13)) == .open)
        #expect(logic.admit(now: at(22)).admission == .refused)
        #expect(logic.admit(now: at(23)).admission == .trial)
    }

    @Test func resultsOfCallsAdmittedBeforeItOpenedChangeNothingWhileOpen() {
        var logic = CircuitBreaker.Logic(policy: policy)
        for _ in 0..<3 { _ = logic.recordFailure(now: at(0)) }
        #expect(logic.recordSuccess(now: at(1)) == nil)
        #expect(logic.recordFailure(now: at(5)) == nil)
        #expect(logic.state == .open)
        #expect(logic.admit(now: at(9)).admission == .refused)
        #expect(logic.admit(now: at(10)).admission == .trial, "a late failure did not push the reopening back")
    }

    /// The thread-safe breaker with an injected clock: its state, a log line
    /// per change, and the state on its gauge (a dependency of its own, so no
    /// other test's breaker moves it).
    @Test func theBreakerLogsEachChangeAndExposesItsState() {
        ProcessMetrics.bootstrap()
        let clock = Mutex(start)
        let lines = LogCapture()
        let dependency = CircuitBreaker.Dependency(rawValue: TestEnvironment.uniqueName("breaker-test"))
        func gauge() -> Double? { MetricsText.process.value("circuit_breaker_state", ["dependency": dependency.rawValue]) }
        let breaker = CircuitBreaker(
            dependency: dependency, policy: CircuitBreaker.Policy(failureThreshold: 2, openDuration: .seconds(5)),
            logger: Logger(label: "breaker-test") { _ in lines }, now: { clock.withLock { $0 } })
        #expect(breaker.state == .closed)
        #expect(gauge() == 0)
        breaker.recordFailure()
        breaker.recordFailure()
        #expect(breaker.state == .open)
        #expect(gauge() == 2)
        #expect(breaker.admit() == .refused)
        clock.withLock { $0 = start + .seconds(5) }
        #expect(breaker.admit() == .trial)
        #expect(breaker.state == .halfOpen)
        #expect(gauge() == 1)
        #expect(breaker.admit() == .refused)
        breaker.recordSuccess()
        #expect(breaker.state == .closed)
        #expect(gauge() == 0)
        #expect(lines.states == ["open", "half-open", "closed"])
    }

    @Test func aPolicyNeedsAtLeastOneFailure() {
        #expect(CircuitBreaker.Policy(failureThreshold: 0, openDuration: .seconds(1)).failureThreshold == 1)
    }
}
