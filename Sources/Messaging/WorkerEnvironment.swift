import Logging
import ServiceSupport
import OrderCore
import Topology

/// The settings every queue worker reads the same way.
extension EnvironmentConfiguration {
    /// `QUEUE_PREFIX` ("") and `RETRY_DELAY_MS` (5000, the retry queues' TTL).
    public func topology() throws(ConfigurationError) -> Topology {
        Topology(
            prefix: queuePrefix,
            retryDelayMilliseconds: try int("RETRY_DELAY_MS", default: 5000, in: 1...86_400_000))
    }

    /// `MAX_RETRIES` (3): retries of a transient failure before the DLQ.
    public func retryPolicy() throws(ConfigurationError) -> RetryPolicy {
        RetryPolicy(maxRetries: try int("MAX_RETRIES", default: 3, in: 0...100))
    }
}

/// How a worker consumes its queue. order-worker reads these as `WORKER_…`,
/// vendor-sync-worker as `VENDOR_SYNC_…`.
public struct ConsumeSettings: Sendable, Hashable {
    /// Unacknowledged deliveries per loop.
    public var prefetch: Int
    /// Most deliveries handled together (one transaction, one multiple ack); 1 turns batching off.
    public var batchSize: Int
    /// Independent consume loops, each with its own connection.
    public var loops: Int
    /// How long a loop that has fewer than `batchSize` messages waits for more
    /// before it starts a window. At a few thousand messages a second, ten
    /// milliseconds turn many one-message transactions into a few larger ones
    /// (fewer commits, less database CPU) for that much more latency to the
    /// database; zero starts at once with whatever has arrived.
    public var linger: Duration
    public var retryPolicy: RetryPolicy

    public init(prefetch: Int = 2500, batchSize: Int = 1000, loops: Int = 2, linger: Duration = .milliseconds(10), retryPolicy: RetryPolicy = RetryPolicy()) {
        self.prefetch = prefetch
        self.batchSize = batchSize
        self.loops = loops
        self.linger = linger
        self.retryPolicy = retryPolicy
    }

    public var logMetadata: Logger.Metadata {
        [
            LogKey.prefetch: "\(prefetch)", LogKey.batchSize: "\(batchSize)", LogKey.concurrency: "\(loops)",
            LogKey.lingerMilliseconds: "\(Int(linger.milliseconds))", LogKey.maxRetries: "\(retryPolicy.maxRetries)",
        ]
    }
}

extension EnvironmentConfiguration {
    /// `<prefix>_PREFETCH` (2500), `<prefix>_BATCH_SIZE` (1000, at most 1000),
    /// `<prefix>_CONCURRENCY` (2, at most `maxLoops`), `<prefix>_LINGER_MS` (10)
    /// and `MAX_RETRIES` (3).
    public func consumeSettings(prefix: String, maxLoops: Int) throws(ConfigurationError) -> ConsumeSettings {
        let defaults = ConsumeSettings()
        return ConsumeSettings(
            prefetch: try int("\(prefix)_PREFETCH", default: defaults.prefetch, in: 1...65535),
            batchSize: try int("\(prefix)_BATCH_SIZE", default: defaults.batchSize, in: 1...1000),
            loops: try int("\(prefix)_CONCURRENCY", default: defaults.loops, in: 1...maxLoops),
            linger: .milliseconds(try int("\(prefix)_LINGER_MS", default: Int(defaults.linger.milliseconds), in: 0...1000)),
            retryPolicy: try retryPolicy())
    }
}
