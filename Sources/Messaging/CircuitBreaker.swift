import Logging
import Metrics
import ServiceSupport
import Synchronization

/// Stops calling a dependency that keeps failing (a payment gateway): after
/// `failureThreshold` consecutive failures it opens and refuses every call for
/// `openDuration`; then it is half-open and lets ONE trial call through at a
/// time: a success closes it, a failure opens it again. While it refuses, the
/// caller postpones its work rather than spending retries on a dependency
/// known to be away. Each state change is logged (it is what an operator
/// watches), shown as `circuit_breaker_state{dependency}` (0 closed, 1
/// half-open, 2 open), and the state is readable.
///
/// Thread-safe; the decisions are ``Logic``'s, which tests drive with instants of their choosing.
public final class CircuitBreaker: Sendable {
    public enum State: String, Sendable, Hashable {
        case closed
        case open
        case halfOpen = "half-open"

        /// The gauge's value: rising with how much is refused.
        var gaugeValue: Int {
            switch self {
            case .closed: 0
            case .halfOpen: 1
            case .open: 2
            }
        }
    }

    /// What a breaker guards: its name in the log and the gauge's label,
    /// from a fixed set so the label stays bounded.
    public struct Dependency: RawRepresentable, Sendable, Hashable {
        public let rawValue: String

        /// Tests name breakers of their own, so their gauges stay apart from every other.
        public init(rawValue: String) {
            self.rawValue = rawValue
        }

        public static let paymentGateway = Dependency(rawValue: "payment_gateway")
        public static let wms = Dependency(rawValue: "wms")
        public static let shopify = Dependency(rawValue: "shopify")
        /// One vendor's own database, as vendor-sync-worker reaches it (one per configured vendor).
        public static func vendorDatabase(_ vendor: String) -> Dependency { Dependency(rawValue: "vendor_database_\(vendor)") }
    }

    public struct Policy: Sendable, Hashable {
        /// Consecutive failures that open a closed breaker.
        public var failureThreshold: Int
        /// How long an open breaker refuses calls before it tries one.
        public var openDuration: Duration

        public init(failureThreshold: Int, openDuration: Duration) {
            self.failureThreshold = max(1, failureThreshold)
            self.openDuration = openDuration
        }
    }

    /// What the breaker says to a call about to be made.
    public enum Admission: Sendable, Hashable {
        /// Make the call (closed).
        case allowed
        /// Make the call: it is the half-open trial, and its result decides the state.
        case trial
        /// Do not call: open, or half-open with the trial in flight.
        case refused
    }

    /// The breaker's decisions, without a lock or a clock: every method takes the time.
    public struct Logic: Sendable, Hashable {
        public let policy: Policy
        public private(set) var state: State = .closed
        /// Consecutive failures while closed.
        public private(set) var failures = 0
        /// When an open breaker turns half-open.
        private var reopensAt: ContinuousClock.Instant?
        private var trialInFlight = false

        public init(policy: Policy) {
            self.policy = policy
        }

        /// Whether a call may be made now; an open breaker whose time is up turns
        /// half-open here and admits this call as its trial. The new state, when it changed, is in `changed`.
        public mutating func admit(now: ContinuousClock.Instant) -> (admission: Admission, changed: State?) {
            switch state {
            case .closed:
                return (.allowed, nil)
            case .open:
                guard let reopensAt, now >= reopensAt else { return (.refused, nil) }
                state = .halfOpen
                trialInFlight = true
                return (.trial, .halfOpen)
            case .halfOpen:
                guard !trialInFlight else { return (.refused, nil) }
                trialInFlight = true
                return (.trial, nil)
            }
        }

        /// The dependency answered. Closes a half-open breaker; resets the count of a closed one.
        /// A success that arrives while open (a call admitted before it opened) changes nothing.
        public mutating func recordSuccess(now: ContinuousClock.Instant) -> State? {
            switch state {
            case .closed:
                failures = 0
                return nil
            case .open:
                return nil
            case .halfOpen:
                state = .closed
                failures = 0
                trialInFlight = false
                reopensAt = nil
                return .closed
            }
        }

        /// The dependency failed (away, or a server error). Opens a closed breaker at
        /// the threshold and a half-open one at once; an open one stays as it is.
        public mutating func recordFailure(now: ContinuousClock.Instant) -> State? {
            switch state {
            case .closed:
                failures += 1
                guard failures >= policy.failureThreshold else { return nil }
            case .open:
                return nil
            case .halfOpen:
                trialInFlight = false
            }
            state = .open
            reopensAt = now + policy.openDuration
            return .open
        }
    }

    public let dependency: Dependency
    private let logic: Mutex<Logic>
    private let now: @Sendable () -> ContinuousClock.Instant
    private let logger: Logger
    private let gauge: Gauge

    /// `now` is the clock (tests pass their own).
    public init(
        dependency: Dependency, policy: Policy, logger: Logger, now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }
    ) {
        self.dependency = dependency
        logic = Mutex(Logic(policy: policy))
        self.now = now
        self.logger = logger
        gauge = Gauge(label: "circuit_breaker_state", dimensions: [("dependency", dependency.rawValue)])
        gauge.record(State.closed.gaugeValue)
    }

    public var state: State { logic.withLock { $0.state } }

    public var policy: Policy { logic.withLock { $0.policy } }

    public func admit() -> Admission {
        let instant = now()
        let (admission, changed) = logic.withLock { logic in
            let decision = logic.admit(now: instant)
            show(decision.changed)
            return decision
        }
        if let changed { log(changed) }
        return admission
    }

    public func recordSuccess() {
        let instant = now()
        let changed = logic.withLock { logic in
            let changed = logic.recordSuccess(now: instant)
            show(changed)
            return changed
        }
        if let changed { log(changed) }
    }

    public func recordFailure() {
        let instant = now()
        let changed = logic.withLock { logic in
            let changed = logic.recordFailure(now: instant)
            show(changed)
            return changed
        }
        if let changed { log(changed) }
    }

    /// A change on the gauge, under the lock: two changes in a row must reach it in their order.
    private func show(_ changed: State?) {
        if let changed { gauge.record(changed.gaugeValue) }
    }

    private func log(_ state: State) {
        let metadata: Logger.Metadata = [
            LogKey.breaker: "\(dependency.rawValue)", LogKey.breakerState: "\(state.rawValue)",
            LogKey.breakerFailures: "\(policy.failureThreshold)", LogKey.breakerOpenSeconds: "\(policy.openDuration.components.seconds)",
        ]
        switch state {
        case .open: logger.warning("circuit breaker opened: calls are refused until it half-opens", metadata: metadata)
        case .halfOpen: logger.info("circuit breaker half-open: one trial call goes through", metadata: metadata)
        case .closed: logger.info("circuit breaker closed: calls go through", metadata: metadata)
        }
    }
}

extension LogKey {
    /// A circuit breaker's changes.
    public static let breaker = "breaker", breakerState = "breaker_state", breakerFailures = "breaker_failures"
    public static let breakerOpenSeconds = "breaker_open_seconds"
}
