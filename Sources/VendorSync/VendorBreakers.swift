import Logging
import Messaging
import Postgres

/// One circuit breaker per configured vendor database (a fixed set, so the
/// `circuit_breaker_state{dependency="vendor_database_<vendor>"}` labels stay
/// bounded): one vendor's database being away holds that vendor's movements
/// while the other vendors' flow on.
///
/// A vendor's window reaches its database only when its breaker admits it
/// (closed, or the one half-open trial); otherwise its movements are
/// postponed without a database call. What the database did with an
/// admitted window is recorded once per window: any movement failing because
/// the database is away (``PostgresError/isUnavailable``) is a failure and
/// postpones those movements (no retry spent, never the DLQ, however long
/// the outage); any other answer is a success. An error of one movement
/// (deadlock, serialization failure, lock timeout, a check violation) is the
/// movement's own: it is retried, and dead-lettered once its retries are spent.
public struct VendorBreakers: Sendable {
    private let breakers: [String: CircuitBreaker]

    /// `now` is the breakers' clock (tests pass their own).
    public init(
        vendors: some Sequence<String>, policy: CircuitBreaker.Policy, logger: Logger,
        now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }
    ) {
        breakers = Dictionary(
            vendors.map { ($0, CircuitBreaker(dependency: .vendorDatabase($0), policy: policy, logger: logger, now: now)) }
        ) { first, _ in first }
    }

    public func state(of vendor: String) -> CircuitBreaker.State? { breakers[vendor]?.state }

    /// Whether the vendor's window may call its database now; when not, every
    /// movement of it is ``postponed(_:)``. A vendor without a breaker (none configured) is never admitted.
    public func admit(_ vendor: String) -> Bool {
        switch breakers[vendor]?.admit() {
        case .allowed, .trial: true
        case .refused, nil: false
        }
    }

    /// What a movement of a vendor whose breaker refused the call becomes.
    public static func postponed(_ vendor: String) -> DeliveryOutcome {
        .postpone(reason: "vendor-database-unavailable", message: "vendor \(vendor)'s database circuit breaker is open")
    }

    /// Records what the vendor's database did with an admitted window (one
    /// result per movement) and returns, per movement, the outcome of a failed
    /// one (nil for one the database answered). Every admitted window must come
    /// back here: a half-open trial that records nothing would leave the breaker refusing.
    public func record<Value>(_ vendor: String, _ results: [Result<Value, any Error>]) -> [DeliveryOutcome?] {
        var away = false
        let outcomes = results.map { result -> DeliveryOutcome? in
            guard case .failure(let error) = result else { return nil }
            if (error as? PostgresError)?.isUnavailable == true {
                away = true
                return .postpone(reason: "vendor-database-unavailable", message: "\(error)")
            }
            return .retry(reason: "vendor-database-error", message: "\(error)")
        }
        if away { breakers[vendor]?.recordFailure() } else { breakers[vendor]?.recordSuccess() }
        return outcomes
    }
}
