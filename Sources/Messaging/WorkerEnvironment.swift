import ServiceSupport
import OrderCore
import Topology

/// The settings every queue worker reads the same way.
extension EnvironmentConfiguration {
    /// `QUEUE_PREFIX` ("") and `RETRY_DELAY_MS` (5000, the retry queues' TTL).
    public func topology() throws(ConfigurationError) -> Topology {
        Topology(
            prefix: string("QUEUE_PREFIX", default: ""),
            retryDelayMilliseconds: try int("RETRY_DELAY_MS", default: 5000, in: 1...86_400_000))
    }

    /// `MAX_RETRIES` (3): retries of a transient failure before the DLQ.
    public func retryPolicy() throws(ConfigurationError) -> RetryPolicy {
        RetryPolicy(maxRetries: try int("MAX_RETRIES", default: 3, in: 0...100))
    }
}
