import AMQP
import Foundation
import Logging
import Metrics
import Messaging
import OrderCore
import OrderStore
import Postgres
import ServiceLifecycle
import ServiceSupport
import TextCodecs
import W3CTraceContext

/// Publishes the transactional outbox: the messages of transitions no
/// incoming message drove (an API cancel, a return, the reservation
/// sweeper, a reallocation, a FAILED order) and the inventory events, which
/// their transactions wrote to `outbox`. Rounds of: read the oldest rows (id
/// order), publish them on a confirm channel, delete them once every one is
/// confirmed. A row is deleted only after its confirm, so a crash or a lost
/// broker or database at any point publishes it again (at least once; event
/// ids make subscribers idempotent), and never out of order: a failed round
/// leaves its rows, and the next round starts again from the oldest.
///
/// Only one relay per topology publishes at a time, whatever the number of
/// order-worker instances: each round runs on a connection holding the
/// topology's session advisory lock; the others stand by and try again, and
/// take over when the holder's session ends.
///
/// Counts what it publishes (`outbox_relay_published_total`) and times each
/// round's confirms (`amqp_publish_confirm_seconds{publisher="outbox"}`).
/// While the database is away it reports it on the process's
/// ``DependencyStatus`` and logs the outage once, not every round.
public struct OutboxRelay: Service {
    public struct Configuration: Sendable {
        public var amqp: AMQPConfiguration
        public var scope: Outbox.Scope
        public var batchSize: Int
        /// The wait when the outbox is empty, and a standby relay's wait between tries for the lock.
        public var pollInterval: Duration
        public var retryDelay: ClosedRange<Duration>
        public var status: DependencyStatus

        public init(
            amqp: AMQPConfiguration, scope: Outbox.Scope, batchSize: Int, pollInterval: Duration,
            retryDelay: ClosedRange<Duration> = .milliseconds(200)...(.seconds(5)), status: DependencyStatus = .process
        ) {
            self.amqp = amqp
            self.scope = scope
            self.batchSize = max(1, batchSize)
            self.pollInterval = pollInterval
            self.retryDelay = retryDelay
            self.status = status
        }
    }

    public let configuration: Configuration
    /// One connection, the relay's own: the advisory lock lives in its session.
    public let database: PostgresPool
    public let logger: Logger
    private let published = Counter(label: "outbox_relay_published_total")
    private let confirms = PublishConfirmTimer(publisher: "outbox")

    public init(configuration: Configuration, database: PostgresPool, logger: Logger) {
        self.configuration = configuration
        self.database = database
        self.logger = logger
    }

    /// What a round did.
    enum Round {
        case published(Int)
        case empty
        case standingBy
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await relay() }
    }

    private func relay() async {
        var channel: AMQPChannel?
        /// The backend holding the lock; a new session (the pool replaced a lost connection) must take it again.
        var lockHolder: Int32?
        var backoff = Backoff(configuration.retryDelay)
        var outage = OutageTracker(status: configuration.status)
        while !Task.isCancelled {
            do {
                let done = try await round(channel: &channel, lockHolder: &lockHolder)
                outage.available(logger: logger)
                switch done {
                case .published: break
                case .empty, .standingBy: try await Task.sleep(for: configuration.pollInterval)
                }
                backoff = Backoff(configuration.retryDelay)
            } catch is CancellationError {
                break
            } catch {
                let delay = backoff.next()
                if let error = error as? PostgresError, error.isUnavailable {
                    outage.unavailable(
                        DependencyUnavailable.ordersDatabase, detail: error.reason, holding: "the outbox is published once it is back", logger: logger)
                } else {
                    if error is AMQPError, let open = channel {
                        await open.connection.close()
                        channel = nil
                    }
                    logger.warning("outbox relay round failed; retrying", metadata: [LogKey.error: "\(error)", LogKey.retryIn: "\(delay)"])
                }
                try? await Task.sleep(for: delay)
            }
        }
        outage.abandon()
        if let channel { await channel.connection.close() }
    }

    /// One round: take the lock if this relay does not hold it, read the
    /// oldest rows, publish them with confirms, delete them.
    func round(channel: inout AMQPChannel?, lockHolder: inout Int32?) async throws -> Round {
        let scope = configuration.scope, limit = configuration.batchSize, holder = lockHolder
        let (session, entries): (Int32?, [OutboxEntry]) = try await database.withConnection { connection in
            let pid = connection.backendPID
            if holder != pid {
                guard try Outbox.tryLock(scope, on: connection) else { return (nil, []) }
            }
            return (pid, try Outbox.pending(scope, limit: limit, on: connection))
        }
        if lockHolder == nil, session != nil { logger.info("outbox relay took the lock; publishing", metadata: [LogKey.exchange: "\(scope.exchange)"]) }
        lockHolder = session
        guard session != nil else { return .standingBy }
        guard !entries.isEmpty else { return .empty }

        let open: AMQPChannel
        if let channel, channel.connection.isOpen {
            open = channel
        } else {
            if let channel { await channel.connection.close() }
            open = try await AMQPConnection.connect(configuration.amqp, logger: logger).openConfirmChannel()
            channel = open
        }
        let now = Date()
        do {
            let sent = ContinuousClock.now
            try await open.publish(
                entries.map { entry in
                    var message = AMQPOutgoingMessage(entry.message, timestamp: now)
                    if let traceparent = entry.traceparent, let trace = TraceContext(traceparent: traceparent) { message.properties.carry(trace) }
                    return message
                })
            confirms.confirmed(sentAt: sent)
        } catch {
            // The rows stay: the next round publishes them again, from the oldest,
            // on a new connection when this channel is dead or nacked (`needsNewChannel`).
            if let error = error as? AMQPError, error.needsNewChannel {
                await open.connection.close()
                channel = nil
            }
            var logger = logger
            if let first = entries.first?.message.correlationId { logger[metadataKey: LogKey.orderId] = "\(first)" }
            logger.warning("outbox publish failed", metadata: [LogKey.batch: "\(entries.count)", LogKey.error: "\(error)"])
            throw error
        }
        let ids = entries.map(\.id)
        try await database.withConnection { connection in try Outbox.delete(ids, on: connection) }
        published.increment(by: entries.count)
        if logger.logLevel <= .debug {
            for entry in entries {
                logger.debug(
                    "outbox message published",
                    metadata: [
                        LogKey.orderId: "\(entry.message.correlationId ?? "")", LogKey.routingKey: "\(entry.message.routingKey)",
                        LogKey.exchange: "\(entry.message.exchange)",
                    ])
            }
        }
        return .published(entries.count)
    }
}
