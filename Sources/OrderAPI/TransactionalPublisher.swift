import AMQP
import Dispatch
import HTTPSupport
import Instrumentation
import Logging
import Messaging
import ServiceSupport
import Synchronization

/// How a webhook takes a delivery: its id is inserted and its messages
/// published (confirmed) inside one database transaction, so a delivery that
/// cannot be published rolls its row back and the sender's retry publishes
/// it, and a concurrent redelivery waits on the row and finds it taken. That
/// is at least once, not exactly once: a commit that fails after the confirm
/// (or a confirm later than the deadline) leaves the messages published and
/// no row, and the sender's retry publishes them again; their receivers
/// deduplicate (an order by its derived id, an outcome by its order's state).
/// The Stripe and Shopify webhooks both go through it.
struct TransactionalPublisher: Sendable {
    let publisher: ReconnectingPublisher
    let timeout: Duration

    /// What every webhook 503 for the broker says: nothing was recorded, so the sender delivers again.
    static let brokerUnavailable = Problem(
        status: .serviceUnavailable, code: "broker-unavailable", title: "The event cannot be taken right now",
        detail: "nothing was recorded; deliver it again", retryAfterSeconds: 2)

    /// The publisher's open channel, fetched before the transaction starts
    /// (the pool's thread must not wait on a reconnect); 503 when the broker is down.
    func channel(logger: Logger, metadata: Logger.Metadata) async throws -> AMQPChannel {
        do {
            return try await publisher.currentChannel()
        } catch {
            logger.warning("webhook not taken: broker unavailable", metadata: metadata.merging([LogKey.error: "\(error)"]) { $1 })
            throw Self.brokerUnavailable
        }
    }

    /// Publishes and blocks the calling thread until the broker confirms, at
    /// most `timeout`: called on the database pool's own thread inside the
    /// transaction (never a cooperative or event-loop one), so the commit
    /// waits for the confirm. Throws `brokerUnavailable` when it is not confirmed.
    func publishConfirmed(_ messages: [AMQPOutgoingMessage], on channel: AMQPChannel, logger: Logger) throws {
        let confirms = messages.map { _ in Confirm() }
        // The request's trace: the pool's thread runs with the caller's context.
        let trace = ServiceContext.current?.traceContext
        let (sent, confirmTimer) = (ContinuousClock.now, publisher.confirms)
        for (message, confirm) in zip(messages, confirms) {
            var properties = message.properties
            properties.propagate(trace)
            channel.publish(
                message.body, exchange: message.exchange, routingKey: message.routingKey, mandatory: message.mandatory, properties: properties
            ) { outcome in
                if case .success = outcome { confirmTimer.confirmed(sentAt: sent) }
                confirm.result.withLock { $0 = outcome }
                confirm.done.signal()
            }
        }
        let deadline = DispatchTime.now() + .milliseconds(Int(timeout.milliseconds.rounded(.up)))
        for confirm in confirms {
            let answered = confirm.done.wait(timeout: deadline) == .success
            switch confirm.result.withLock({ $0 }) {
            case .success? where answered:
                continue
            case .failure(let error)? where answered:
                // A closed (or nacking) channel stays so: the next delivery must get a new one.
                if error.needsNewChannel { publisher.discard(channel) }
                logger.warning("webhook not taken: the publish failed", metadata: [LogKey.error: "\(error)"])
            default:
                logger.warning("webhook not taken: no confirm in time", metadata: ["timeout": "\(timeout)"])
            }
            throw Self.brokerUnavailable
        }
    }

    /// The broker's answer to one publish, set on the connection's thread.
    private final class Confirm: Sendable {
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<Result<Void, AMQPError>?>(nil)
    }
}
