import AMQP
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
import TextCodecs

private let stripeSignatureField = HTTPField.Name("Stripe-Signature")!

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
    let publisher: TransactionalPublisher
    let queue: String
    let maxBodyBytes: Int

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
        let channel = try await publisher.channel(logger: context.logger, metadata: metadata)
        let message = AMQPOutgoingMessage(outcome.outboundMessage(queue: queue, messageId: event.id), timestamp: Date())
        let (eventId, eventType, publisher, logger) = (event.id, event.type, publisher, context.logger)
        let taken = try await database.withTransaction { connection -> Taken in
            let inserted = try connection.query(
                "INSERT INTO stripe_webhook_events (event_id, type) VALUES ($1, $2) ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
                [eventId, eventType])
            guard inserted.first != nil else { return .duplicate }
            // On the pool's own thread, which may block: the commit waits for the confirm.
            try publisher.publishConfirmed([message], on: channel, logger: logger)
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
}
