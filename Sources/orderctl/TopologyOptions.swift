import ArgumentParser
import ServiceSupport
import Topology

/// `--queue-prefix`: which topology a command works on, as the daemons' QUEUE_PREFIX selects it.
struct TopologyOptions: ParsableArguments {
    @Option(name: .customLong("queue-prefix"), help: "Prefix of every queue name of the topology (default: $QUEUE_PREFIX, else none).")
    var queuePrefix: String = EnvironmentConfiguration().queuePrefix

    /// With `FULFILMENT_RETRY_DELAYS_MS`, as fulfilment-worker reads it, so the tiers declared are the ones it routes to.
    var topology: Topology {
        get throws {
            Topology(
                prefix: queuePrefix,
                fulfilmentRetryDelaysMilliseconds: try EnvironmentConfiguration().fulfilmentRetryDelaysMilliseconds(
                    default: Topology.defaultFulfilmentRetryDelaysMilliseconds))
        }
    }
}
