import Logging
import Messaging
import OrderCore
import ServiceSupport
import TextCodecs
import Topology

/// order-worker's configuration, from the environment.
public struct OrderWorkerConfiguration: Sendable {
    public var amqpURL: String
    public var databaseURL: String
    public var consume: ConsumeSettings
    public var topology: Topology
    public var sweeper: ReservationSweeper.Settings

    /// Reads `AMQP_URL`, `DATABASE_URL`, `QUEUE_PREFIX` (""), `RETRY_DELAY_MS` (5000) and the
    /// `WORKER_` consume settings (`EnvironmentConfiguration.consumeSettings`): `WORKER_PREFETCH`,
    /// `WORKER_BATCH_SIZE`, `WORKER_CONCURRENCY`, `WORKER_LINGER_MS`, and `MAX_RETRIES`.
    public init(environment: EnvironmentConfiguration = EnvironmentConfiguration()) throws {
        amqpURL = environment.amqpURL
        databaseURL = environment.databaseURL
        consume = try environment.consumeSettings(.worker, maxLoops: 256)
        topology = try environment.topology()
        sweeper = try ReservationSweeper.Settings(environment: environment)
    }

    public var logMetadata: Logger.Metadata {
        [
            LogKey.amqpURL: "\(URLRedaction.redact(amqpURL))", LogKey.databaseURL: "\(URLRedaction.redact(databaseURL))",
            LogKey.queue: "\(topology.orders.main)",
        ].merging(consume.logMetadata) { $1 }
    }
}
