/// Capped exponential backoff with full jitter: the n-th wait (from 0) is
/// drawn uniformly from `bounds.lowerBound ... min(bounds.upperBound,
/// bounds.lowerBound * 2^n)`. The jitter spreads the retries of many loops
/// and processes that lost the same dependency at the same moment, so they
/// do not come back in lockstep; the lower bound keeps a retry from spinning.
/// A fresh value starts at the lower bound again (after a success).
public struct Backoff: Sendable, Hashable {
    public let bounds: ClosedRange<Duration>
    /// Waits handed out so far.
    public private(set) var attempts = 0

    public init(_ bounds: ClosedRange<Duration>) {
        self.bounds = bounds
    }

    /// The ceiling of the next wait: the lower bound doubled once per wait so far, capped.
    public var ceiling: Duration {
        var ceiling = bounds.lowerBound
        for _ in 0..<attempts where ceiling < bounds.upperBound { ceiling = ceiling * 2 }
        return min(ceiling, bounds.upperBound)
    }

    /// The next wait, and one more attempt counted.
    public mutating func next<Generator: RandomNumberGenerator>(using generator: inout Generator) -> Duration {
        let (low, high) = (Self.nanoseconds(bounds.lowerBound), Self.nanoseconds(ceiling))
        attempts += 1
        return .nanoseconds(high > low ? Int64.random(in: low...high, using: &generator) : low)
    }

    public mutating func next() -> Duration {
        var generator = SystemRandomNumberGenerator()
        return next(using: &generator)
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
