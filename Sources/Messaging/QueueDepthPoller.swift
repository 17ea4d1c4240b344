import AMQP
import Logging
import Metrics
import ServiceLifecycle
import ServiceSupport
import Topology

/// Reads a queue set's depths and consumer counts every `interval` with a
/// passive `queue.declare` (the broker's answer carries both, so no
/// management API is needed) into `broker_queue_messages{queue}` and
/// `broker_queue_consumers{queue}`. Runs beside a ``QueueWorker``'s loops on
/// a connection of its own (named after the worker's, `-depths` appended, so
/// the broker's list tells it from the consumers); a queue that is missing or a broker that is away
/// leaves the last figures and is tried again next time, quietly, since the
/// worker's own loops already report an absent broker.
struct QueueDepthPoller: Sendable {
    private struct Gauges: Sendable {
        let name: String
        let messages: Gauge
        let consumers: Gauge
    }

    let amqp: AMQPConfiguration
    let interval: Duration
    let logger: Logger
    private let gauges: [Gauges]

    init(amqp: AMQPConfiguration, queues: [String], interval: Duration, logger: Logger) {
        var amqp = amqp
        amqp.connectionName += "-depths"
        self.amqp = amqp
        self.interval = interval
        self.logger = logger
        gauges = queues.map { queue in
            Gauges(
                name: queue, messages: Gauge(label: "broker_queue_messages", dimensions: [("queue", queue)]),
                consumers: Gauge(label: "broker_queue_consumers", dimensions: [("queue", queue)]))
        }
    }

    func run() async {
        try? await cancelWhenGracefulShutdown {
            var channel: AMQPChannel?
            while !Task.isCancelled {
                channel = await poll(on: channel)
                try? await Task.sleep(for: interval)
            }
            if let channel { await channel.connection.close() }
        }
    }

    /// One round; returns the channel to use next time (nil: connect again).
    private func poll(on open: AMQPChannel?) async -> AMQPChannel? {
        var channel = open
        for queue in gauges {
            do {
                if channel == nil || channel?.connection.isOpen == false {
                    if let dead = channel { await dead.connection.close() }
                    channel = try await AMQPConnection.connect(amqp, logger: logger).openChannel()
                }
                guard let current = channel else { continue }
                let state = try await current.declareQueue(queue.name, passive: true)
                queue.messages.record(Int(state.messageCount))
                queue.consumers.record(Int(state.consumerCount))
            } catch let error as AMQPError where error.isChannelDead && !error.isConnectionDead {
                // A missing queue (404) closes the channel: the next queue gets a new one.
                logger.debug("queue depth unavailable", metadata: [LogKey.queue: "\(queue.name)", LogKey.error: "\(error)"])
                channel = try? await channel?.connection.openChannel()
            } catch {
                logger.debug("queue depths unavailable", metadata: [LogKey.error: "\(error)"])
                if let channel { await channel.connection.close() }
                return nil
            }
        }
        return channel
    }
}

extension QueueSet {
    /// Main, retry tiers, DLQ.
    var names: [String] { [main] + retryTiers.map(\.name) + [deadLetter] }
}
