import Logging
import ServiceSupport
import OrderCore
import Topology

/// The settings every queue worker reads the same way.
extension EnvironmentConfiguration {
    /// `QUEUE_PREFIX` (""), `RETRY_DELAY_MS` (5000, the retry queues' TTL) and
    /// `FULFILMENT_RETRY_DELAYS_MS` (5000,30000,300000, the fulfilment retry tiers).
    public func topology() throws(ConfigurationError) -> Topology {
        Topology(
            prefix: queuePrefix,
            retryDelayMilliseconds: try int(.retryDelayMilliseconds, default: 5000, in: 1...86_400_000),
            fulfilmentRetryDelaysMilliseconds: try fulfilmentRetryDelaysMilliseconds(default: Topology.defaultFulfilmentRetryDelaysMilliseconds))
    }

    /// `MAX_RETRIES` (3): retries of a transient failure before the DLQ.
    public func retryPolicy() throws(ConfigurationError) -> RetryPolicy {
        RetryPolicy(maxRetries: try int(.maxRetries, default: 3, in: 0...100))
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

/// The variables one worker reads its ``ConsumeSettings`` from, and their defaults.
public struct ConsumeVariables: Sendable {
    public let prefetch: EnvironmentVariable
    public let batchSize: EnvironmentVariable
    public let concurrency: EnvironmentVariable
    public let linger: EnvironmentVariable
    public var defaults = ConsumeSettings()

    /// order-worker's.
    public static let worker = ConsumeVariables(
        prefetch: .workerPrefetch, batchSize: .workerBatchSize, concurrency: .workerConcurrency, linger: .workerLingerMilliseconds)
    /// vendor-sync-worker's. Its messages are batches: one carries a vendor's
    /// movements from a whole order-worker window (up to `WORKER_BATCH_SIZE`),
    /// so its window and prefetch count far fewer messages than order-worker's
    /// for the same number of movements: 32 messages are typically a few
    /// thousand movements, and at most 32,000 in one vendor transaction.
    public static let vendorSync = ConsumeVariables(
        prefetch: .vendorSyncPrefetch, batchSize: .vendorSyncBatchSize, concurrency: .vendorSyncConcurrency,
        linger: .vendorSyncLingerMilliseconds, defaults: ConsumeSettings(prefetch: 64, batchSize: 32))
}

extension EnvironmentConfiguration {
    /// `…_PREFETCH` (2500; vendor-sync 64), `…_BATCH_SIZE` (1000, at most 1000;
    /// vendor-sync 32), `…_CONCURRENCY` (2, at most `maxLoops`), `…_LINGER_MS`
    /// (10) and `MAX_RETRIES` (3).
    ///
    /// The prefetch must be at least twice the batch size, or the setting is
    /// refused: a loop applies one window while the broker still holds the
    /// acks of the one before (its vendor messages are being confirmed), so
    /// with less the second window waits for the first one's acks and the
    /// windows shrink to whatever the prefetch leaves over. Refused rather
    /// than raised, because a low prefetch is also how an operator bounds a
    /// worker's unacknowledged messages: lower the batch size with it.
    public func consumeSettings(_ variables: ConsumeVariables, maxLoops: Int) throws(ConfigurationError) -> ConsumeSettings {
        let defaults = variables.defaults
        let settings = ConsumeSettings(
            prefetch: try int(variables.prefetch, default: defaults.prefetch, in: 1...65535),
            batchSize: try int(variables.batchSize, default: defaults.batchSize, in: 1...1000),
            loops: try int(variables.concurrency, default: defaults.loops, in: 1...maxLoops),
            linger: .milliseconds(try int(variables.linger, default: Int(defaults.linger.milliseconds), in: 0...1000)),
            retryPolicy: try retryPolicy())
        guard settings.prefetch >= 2 * settings.batchSize else {
            throw ConfigurationError(
                variables.prefetch,
                "must be at least twice \(variables.batchSize.name) (\(settings.batchSize)), got \(settings.prefetch): "
                    + "raise it to \(2 * settings.batchSize), or lower \(variables.batchSize.name) to at most half of it")
        }
        return settings
    }
}
