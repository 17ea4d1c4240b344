import ArgumentParser
import ServiceSupport
import Topology

/// `--queue-prefix`: which topology a command works on, as the daemons' QUEUE_PREFIX selects it.
struct TopologyOptions: ParsableArguments {
    @Option(name: .customLong("queue-prefix"), help: "Prefix of every queue name of the topology (default: $QUEUE_PREFIX, else none).")
    var queuePrefix: String = EnvironmentConfiguration().queuePrefix

    @Option(
        name: .customLong("quorum-initial-group-size"),
        help: "Replicas of each queue on a cluster (default: $QUORUM_INITIAL_GROUP_SIZE, else none named: a single broker's queues are declared without).")
    var quorumInitialGroupSize: Int?

    /// With `FULFILMENT_RETRY_DELAYS_MS`, as fulfilment-worker reads it, so the tiers declared are the ones it routes to.
    var topology: Topology {
        get throws {
            let environment = EnvironmentConfiguration()
            try Self.check(quorumInitialGroupSize: quorumInitialGroupSize)
            let groupSize = try quorumInitialGroupSize
                ?? environment.optionalString(.quorumInitialGroupSize).map { _ in try environment.int(.quorumInitialGroupSize, default: 1, in: 1...99) }
            return Topology(
                prefix: queuePrefix,
                fulfilmentRetryDelaysMilliseconds: try environment.fulfilmentRetryDelaysMilliseconds(
                    default: Topology.defaultFulfilmentRetryDelaysMilliseconds),
                quorumInitialGroupSize: groupSize)
        }
    }

    /// The one check of `--quorum-initial-group-size`, for every command that takes it.
    static func check(quorumInitialGroupSize: Int?) throws {
        if let quorumInitialGroupSize, quorumInitialGroupSize < 1 {
            throw ValidationError("--quorum-initial-group-size must be at least 1, got \(quorumInitialGroupSize)")
        }
    }
}
