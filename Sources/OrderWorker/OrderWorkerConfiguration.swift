import Logging
import Messaging
import OrderCore
import OrderStore
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
    public var reservationTTLSeconds: Int
    public var lowStockThreshold: Int
    public var outboxPollInterval: Duration
    public var outboxBatchSize: Int
    public var metrics: MetricsEndpoint

    /// What the order applier needs to know about this deployment.
    public var applierSettings: OrderApplier.Settings {
        OrderApplier.Settings(
            eventsExchange: topology.orderEvents, stockLevels: StockLevelPolicy(threshold: lowStockThreshold),
            reservationTTLSeconds: reservationTTLSeconds)
    }

    /// Reads `AMQP_URL`, `DATABASE_URL`, `QUEUE_PREFIX` (""), `RETRY_DELAY_MS` (5000) and the
    /// `WORKER_` consume settings (`EnvironmentConfiguration.consumeSettings`): `WORKER_PREFETCH`,
    /// `WORKER_BATCH_SIZE`, `WORKER_CONCURRENCY`, `WORKER_LINGER_MS`, and `MAX_RETRIES`;
    /// `RESERVATION_TTL_SECONDS` (900), `LOW_STOCK_THRESHOLD` (5), and the outbox
    /// relay's `OUTBOX_POLL_MILLISECONDS` (200) and `OUTBOX_BATCH_SIZE` (500);
    /// `METRICS_HOST` (127.0.0.1) and `METRICS_PORT` (9101), where it serves `GET /metrics`.
    public init(environment: EnvironmentConfiguration = EnvironmentConfiguration()) throws {
        amqpURL = environment.amqpURL
        databaseURL = environment.databaseURL
        consume = try environment.consumeSettings(.worker, maxLoops: 256)
        topology = try environment.topology()
        sweeper = try ReservationSweeper.Settings(environment: environment)
        reservationTTLSeconds = try environment.reservationTTLSeconds()
        lowStockThreshold = try environment.lowStockThreshold()
        outboxPollInterval = .milliseconds(try environment.int(.outboxPollMilliseconds, default: 200, in: 10...60_000))
        outboxBatchSize = try environment.int(.outboxBatchSize, default: 500, in: 1...10_000)
        metrics = try environment.metricsEndpoint(defaultPort: 9101)
    }

    public var logMetadata: Logger.Metadata {
        [
            LogKey.amqpURL: "\(URLRedaction.redact(amqpURL))", LogKey.databaseURL: "\(URLRedaction.redact(databaseURL))",
            LogKey.queue: "\(topology.orders.main)", LogKey.exchange: "\(topology.orderEvents)",
            LogKey.reservationTTLSeconds: "\(reservationTTLSeconds)", LogKey.lowStockThreshold: "\(lowStockThreshold)",
            LogKey.outboxPollMilliseconds: "\(outboxPollInterval.milliseconds)", LogKey.outboxBatchSize: "\(outboxBatchSize)",
        ].merging(consume.logMetadata) { $1 }.merging(metrics.logMetadata) { $1 }
    }
}

extension Topology {
    /// The outbox rows this topology's relay publishes: its events, and the messages for its queues (vendor_sync movements).
    public var outboxScope: Outbox.Scope {
        Outbox.Scope(exchange: orderEvents, queues: queues.map(\.name))
    }
}
