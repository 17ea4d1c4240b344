/// The headers a worker writes when it sends a message to a retry queue or a
/// DLQ. Headers carry retry state only; the body is never changed.
public enum FailureHeader {
    /// How many times the message has been sent to the retry queue (integer).
    public static let retryCount = "x-retry-count"
    /// A stable code: `undecodable-message`, `invalid-message`, `database-unavailable`, …
    public static let reason = "x-error-reason"
    /// A human-readable description (no secrets, no SQL parameters).
    public static let message = "x-error-message"
    /// When the last failure happened (ISO 8601).
    public static let failedAt = "x-failed-at"
    /// The queue the message was consumed from, so a replay knows where it goes back to.
    public static let originalQueue = "x-original-queue"
    /// Which process failed it.
    public static let failedBy = "x-failed-by"

    /// Headers RabbitMQ adds when it dead-letters; copying them into a new
    /// publish can make RabbitMQ 3.10 drop the message as a dead-letter cycle.
    public static let brokerDeadLetterHeaders: Set<String> = [
        "x-death", "x-first-death-exchange", "x-first-death-queue", "x-first-death-reason",
        "x-last-death-exchange", "x-last-death-queue", "x-last-death-reason", "x-delivery-count",
    ]
}

/// What to do with a message whose processing failed.
public enum FailureRoute: Sendable, Hashable {
    /// Publish to the retry queue with this `x-retry-count`.
    case retry(attempt: Int)
    /// Publish to the DLQ.
    case deadLetter
}

public struct RetryPolicy: Sendable, Hashable {
    /// Retries before a transiently failing message goes to the DLQ.
    public var maxRetries: Int

    public init(maxRetries: Int = 3) { self.maxRetries = maxRetries }

    /// `retriesSoFar` is the message's current `x-retry-count` (0 when absent).
    public func route(retriesSoFar: Int, transient: Bool) -> FailureRoute {
        guard transient, retriesSoFar < maxRetries else { return .deadLetter }
        return .retry(attempt: retriesSoFar + 1)
    }
}
