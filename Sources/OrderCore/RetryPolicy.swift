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
