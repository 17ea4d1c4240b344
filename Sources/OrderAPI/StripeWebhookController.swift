import AMQP
import Dispatch
import Foundation
import HTTPSupport
import HTTPTypes
import Hummingbird
import Logging
import Messaging
import OrderCore
import Postgres
import ServiceSupport
import StripeAPI
import Synchronization
import TextCodecs

private let stripeSignatureField = HTTPField.Name("Stripe-Signature")!

/// A generic type cannot hold a static: what every webhook 503 for the broker says.
private let brokerUnavailable = Problem(
    status: .serviceUnavailable, code: "broker-unavailable", title: "The event cannot be taken right now",
    detail: "nothing was recorded; deliver it again", retryAfterSeconds: 2)

/// `POST /webhooks/stripe`: Stripe's word on a PaymentIntent, for the order
/// worker. The raw body must carry a valid `Stripe-Signature`; then the event
/// is taken once per event id: its id is inserted into `stripe_webhook_events`
/// and its outcome published (confirmed) to `payment_outcomes` in one
/// transaction, so a delivery that cannot be published leaves no row and
/// Stripe's retry publishes it, and a concurrent redelivery waits on the row
/// and answers `duplicate`. The API never changes order state itself.
struct StripeWebhookController<Context: RequestContext>: Sendable {
    /// nil: `STRIPE_WEBHOOK_SECRET` unset, every delivery refused.
    let signature: StripeSignature?
    let database: PostgresPool
    let publisher: ReconnectingPublisher
    let queue: String
    let maxBodyBytes: Int
    let publishTimeout: Duration

    func addRoutes(to router: HTTPRouter<Context>) {
        router.post("/webhooks/stripe", use: receive)
    }

    private enum Taken: String, Sendable { case applied, duplicate, ignored }

    @Sendable func receive(_ request: Request, context: Context) async throws -> Response {
        guard let signature else {
            throw Problem(
                status: .serviceUnavailable, code: "webhooks-not-configured", title: "Stripe webhooks are not configured",
                detail: "set STRIPE_WEBHOOK_SECRET to the endpoint's signing secret")
        }
        let body = Array(try await request.body.collect(upTo: maxBodyBytes).readableBytesView)
        do {
            try signature.verify(header: request.headers[stripeSignatureField], body: body)
        } catch {
            context.logger.warning("stripe webhook refused", metadata: [LogKey.error: "\(error)"])
            throw Problem(status: .badRequest, code: "invalid-signature", title: "The Stripe-Signature does not verify", detail: error.description)
        }
        guard let event = StripeWebhookEvent.parse(body) else {
            throw Problem(status: .badRequest, code: "invalid-request", title: "The request is invalid", detail: "not a Stripe event: a JSON object with id and type")
        }
        let metadata: Logger.Metadata = ["event_id": .string(event.id), "event_type": .string(event.type)]
        guard let outcome = event.outcome else {
            context.logger.info("stripe webhook ignored", metadata: metadata.merging(["why": .string(event.ignoredBecause ?? "")]) { $1 })
            return try Self.answer(.ignored)
        }
        let channel: AMQPChannel
        do {
            channel = try await publisher.currentChannel()
        } catch {
            context.logger.warning("stripe webhook not taken: broker unavailable", metadata: metadata.merging([LogKey.error: "\(error)"]) { $1 })
            throw brokerUnavailable
        }
        let message = AMQPOutgoingMessage(outcome.outboundMessage(queue: queue, messageId: event.id), timestamp: Date())
        let (eventId, eventType, timeout, logger) = (event.id, event.type, publishTimeout, context.logger)
        let taken = try await database.withTransaction { connection -> Taken in
            let inserted = try connection.query(
                "INSERT INTO stripe_webhook_events (event_id, type) VALUES ($1, $2) ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
                [eventId, eventType])
            guard inserted.first != nil else { return .duplicate }
            // On the pool's own thread, which may block: the commit waits for the confirm.
            try Self.publishConfirmed(message, on: channel, timeout: timeout, logger: logger)
            return .applied
        }
        context.logger.info(
            "stripe webhook \(taken.rawValue)",
            metadata: metadata.merging([LogKey.orderId: .string(UUIDText.string(outcome.orderId)), "outcome": .string(outcome.kind.rawValue)]) { $1 })
        return try Self.answer(taken)
    }

    private static func answer(_ taken: Taken) throws -> Response {
        try JSONResponse.make(["status": taken.rawValue])
    }

    /// Publishes and blocks the calling thread (never a cooperative or event-loop
    /// one) until the broker confirms, at most `timeout`.
    private static func publishConfirmed(_ message: AMQPOutgoingMessage, on channel: AMQPChannel, timeout: Duration, logger: Logger) throws {
        let confirm = Confirm()
        channel.publish(
            message.body, exchange: message.exchange, routingKey: message.routingKey, mandatory: message.mandatory, properties: message.properties
        ) { outcome in
            confirm.result.withLock { $0 = outcome }
            confirm.done.signal()
        }
        let milliseconds = Int(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let answered = confirm.done.wait(timeout: .now() + .milliseconds(milliseconds)) == .success
        switch confirm.result.withLock({ $0 }) {
        case .success? where answered:
            return
        case .failure(let error)? where answered:
            logger.warning("stripe webhook not taken: the publish failed", metadata: [LogKey.error: "\(error)"])
        default:
            logger.warning("stripe webhook not taken: no confirm in time", metadata: ["timeout": "\(timeout)"])
        }
        throw brokerUnavailable
    }

    /// The broker's answer to one publish, set on the connection's thread.
    private final class Confirm: Sendable {
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<Result<Void, AMQPError>?>(nil)
    }
}
