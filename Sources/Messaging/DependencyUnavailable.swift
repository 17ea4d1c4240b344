/// Thrown by a ``DeliveryHandler`` when something every message of the window
/// needs is away (the orders database refusing connections, shutting down,
/// out of connection slots): nothing is wrong with the messages, so none of
/// them may spend a retry or reach a DLQ.
///
/// The ``QueueWorker`` keeps the window's deliveries unacked (they stay in
/// queue order and no delivery is counted again), stops taking further
/// messages, reports itself not ready with `dependency` and `detail`, and
/// hands the same window to the handler again after a capped, jittered
/// backoff until it goes through. A dependency that only some messages need
/// (one vendor's database among several) is not this: those messages are
/// postponed (``DeliveryOutcome/postpone(reason:message:)``) while the others flow.
public struct DependencyUnavailable: Error, CustomStringConvertible, Sendable {
    /// A stable name: `ordersdb`, `vendor-database:vendorA`, …
    public var dependency: String
    /// Why, safe to log and to show on `/health/ready` (no password, no host).
    public var detail: String

    public init(dependency: String, detail: String) {
        self.dependency = dependency
        self.detail = detail
    }

    public var description: String { "\(dependency) unavailable: \(detail)" }
}
