import AMQP
import Foundation
import HTTPSupport
import HTTPTypes
import Hummingbird
import Logging
import Messaging
import OrderCore
import OrderStore
import Postgres
import ServiceSupport
import Shopify
import TextCodecs
import Topology

/// Built once, here because a generic type cannot hold a static.
private let hmacField = HTTPField.Name("X-Shopify-Hmac-Sha256")!
private let topicField = HTTPField.Name("X-Shopify-Topic")!
private let shopField = HTTPField.Name("X-Shopify-Shop-Domain")!
private let webhookIdField = HTTPField.Name("X-Shopify-Webhook-Id")!

/// `POST /webhooks/shopify/orders`: a shop's orders coming in. The raw body
/// must carry a valid `X-Shopify-Hmac-Sha256` before anything parses it; then
/// each delivery is taken once per `X-Shopify-Webhook-Id`, and each Shopify
/// order is one order whatever delivers it (its id is derived from the shop
/// and Shopify's id, and the worker applies an id once).
///
/// `orders/create` goes on the orders queue like `POST /order` (the webhook's
/// row and the confirmed publish in one transaction, so a delivery that
/// cannot be published leaves no row and Shopify's retry takes it); an
/// unknown SKU reaches the worker, which REJECTS the order with its reason;
/// a body no order can be made of is dead-lettered with its reason. Both
/// answer 200: Shopify redelivers anything else for days. `orders/cancelled`
/// cancels through the lifecycle. Nothing waits on the worker, so the answer
/// comes well within Shopify's time limit.
struct ShopifyWebhookController<Context: RequestContext>: Sendable {
    /// nil: `SHOPIFY_WEBHOOK_SECRET` unset, every delivery refused.
    let signature: ShopifyWebhookSignature?
    let database: PostgresPool
    let publisher: TransactionalPublisher
    let orderIDs: OrderID
    let routing: OutboxRouting
    /// The orders queue and its DLQ.
    let queues: QueueSet
    let maxBodyBytes: Int
    let intake = IntakeMetrics(channel: "shopify")

    func addRoutes(to router: HTTPRouter<Context>) {
        router.post("/webhooks/shopify/orders", use: receive)
    }

    /// What a delivery became: the answer's `status` and the webhook row's `outcome`.
    enum Taken: String, Sendable {
        case enqueued, duplicate, cancelled, ignored
        case deadLettered = "dead-lettered"
        /// Recorded for a cancel the lifecycle refused (an order past SHIPPED); answered `ignored`.
        case cancelRefused = "cancel-refused"

        var status: String { self == .cancelRefused ? Taken.ignored.rawValue : rawValue }
    }

    /// The body limit this route takes at least: a whole Shopify order (customer,
    /// addresses, taxes, discounts, dozens of line items) can exceed MAX_BODY_BYTES's
    /// 64 KiB, and a webhook that keeps failing is one Shopify removes.
    static var minimumBodyBytes: Int { 1024 * 1024 }

    /// The reason a dead-lettered delivery carries in `x-error-reason`.
    static var malformedReason: String { "malformed-shopify-order" }

    /// What the delivery headers say a delivery is.
    private struct Delivery: Sendable {
        let topic: String
        let shop: String
        let webhookId: String
    }

    @Sendable func receive(_ request: Request, context: Context) async throws -> Response {
        guard let signature else {
            throw Problem(
                status: .serviceUnavailable, code: "webhooks-not-configured", title: "Shopify webhooks are not configured",
                detail: "set SHOPIFY_WEBHOOK_SECRET to the app's webhook signing secret")
        }
        let body = Array(try await request.body.collect(upTo: maxBodyBytes).readableBytesView)
        do {
            try signature.verify(header: request.headers[hmacField], body: body)
        } catch {
            context.logger.warning(
                "shopify webhook refused", metadata: [LogKey.error: "\(error)", "shop": "\(request.headers[shopField] ?? "-")"])
            throw Problem(
                status: .unauthorized, code: "invalid-signature", title: "The X-Shopify-Hmac-Sha256 does not verify", detail: error.description,
                headers: [.wwwAuthenticate: #"HMAC-SHA256 realm="shopify-webhooks""#])
        }
        let delivery = try Self.delivery(request.headers)
        var metadata: Logger.Metadata = ["webhook_id": .string(delivery.webhookId), "topic": .string(delivery.topic), "shop": .string(delivery.shop)]
        switch delivery.topic {
        case "orders/create":
            let (taken, orderId) = try await create(body, delivery, metadata: &metadata, logger: context.logger)
            if taken == .enqueued { intake.accepted.increment() }
            return try Self.answer(taken, orderId: orderId)
        case "orders/cancelled":
            let (taken, orderId) = try await cancelled(body, delivery, metadata: &metadata, logger: context.logger)
            return try Self.answer(taken, orderId: orderId)
        default:
            context.logger.info("shopify webhook ignored: not an order topic this endpoint takes", metadata: metadata)
            return try Self.answer(.ignored, orderId: nil)
        }
    }

    /// The delivery headers Shopify always sends; 400 without them.
    private static func delivery(_ headers: HTTPFields) throws -> Delivery {
        var errors: [FieldError] = []
        func required(_ name: HTTPField.Name) -> String {
            guard let value = headers[name], (1...255).contains(value.utf8.count) else {
                errors.append(FieldError(field: name.rawName, message: "is required (1 to 255 characters)"))
                return ""
            }
            return value
        }
        let delivery = Delivery(topic: required(topicField), shop: required(shopField), webhookId: required(webhookIdField))
        guard errors.isEmpty else {
            throw Problem(status: .badRequest, code: "invalid-request", title: "The request is invalid", detail: "a Shopify webhook header is missing", errors: errors)
        }
        return delivery
    }

    // MARK: orders/create

    private func create(
        _ body: [UInt8], _ delivery: Delivery, metadata: inout Logger.Metadata, logger: Logger
    ) async throws -> (Taken, UUID?) {
        let parsed: Result<ShopifyOrder, ShopifyOrder.Malformed>
        do {
            parsed = .success(try ShopifyOrder.parse(body))
        } catch {
            parsed = .failure(error)
        }
        let orderId = try? parsed.get().orderId(shop: delivery.shop, ids: orderIDs)
        if let orderId { metadata[LogKey.orderId] = .string(UUIDText.string(orderId)) }
        let channel = try await publisher.channel(logger: logger, metadata: metadata)
        let (orderIDs, queues, publisher) = (orderIDs, queues, publisher)
        let (taken, failure) = try await database.withTransaction { connection -> (Taken, ShopifyOrder.Malformed?) in
            // A delivery that cannot become an order still becomes a message: dead-lettered with its reason.
            let (message, failure): (AMQPOutgoingMessage, ShopifyOrder.Malformed?)
            do {
                let order = try parsed.get()
                let products = try SKUMappings.products(
                    forSKUs: order.lineItems.compactMap(\.sku), channel: ShopifyOrder.channel, on: connection)
                let placed = try order.orderPlaced(shop: delivery.shop, ids: orderIDs, products: products, acceptedAt: Date())
                (message, failure) = (
                    AMQPOutgoingMessage(placed.encoded(), routingKey: queues.main, mandatory: true, properties: placed.amqpProperties(appID: "order-api")),
                    nil
                )
            } catch let malformed as ShopifyOrder.Malformed {
                (message, failure) = (Self.deadLetter(body, malformed, delivery, orderId: orderId, queues: queues), malformed)
            }
            let taken: Taken = failure == nil ? .enqueued : .deadLettered
            guard try Self.record(delivery, outcome: taken, on: connection) else { return (.duplicate, nil) }
            // On the pool's own thread, which may block: the commit waits for the confirm.
            try publisher.publishConfirmed([message], on: channel, logger: logger)
            return (taken, failure)
        }
        if let failure {
            logger.warning(
                "shopify order dead-lettered", metadata: metadata.merging([LogKey.reason: .string(Self.malformedReason), LogKey.error: "\(failure)"]) { $1 })
        } else {
            logger.info("shopify webhook \(taken.rawValue)", metadata: metadata)
        }
        return (taken, orderId)
    }

    /// The dead letter of a delivery no order can be made of: its raw body,
    /// with the failure headers a queue worker writes (so `orderctl dlq`
    /// lists and exports it like any other) and the Shopify delivery headers.
    private static func deadLetter(
        _ body: [UInt8], _ malformed: ShopifyOrder.Malformed, _ delivery: Delivery, orderId: UUID?, queues: QueueSet
    ) -> AMQPOutgoingMessage {
        var properties = AMQPProperties(
            contentType: "application/json", deliveryMode: .persistent, correlationID: orderId.map(UUIDText.string),
            messageID: delivery.webhookId, timestamp: Date(), type: "shopify." + delivery.topic, appID: "order-api")
        properties.headers = [
            "x-shopify-topic": .string(delivery.topic), "x-shopify-shop-domain": .string(delivery.shop),
            "x-shopify-webhook-id": .string(delivery.webhookId),
        ]
        return AMQPOutgoingMessage(
            body, routingKey: queues.deadLetter, mandatory: true,
            properties: FailureHeaders.failureCopy(
                of: properties, retryCount: 0, reason: malformedReason, message: malformed.problems.joined(separator: "; "),
                originalQueue: queues.main, failedBy: "order-api"))
    }

    // MARK: orders/cancelled

    /// Cancels the order through the lifecycle, as `POST /orders/{id}/cancel`
    /// does, by the system: the cancel comes from another system, which does
    /// not say whether the merchant or the customer asked; the reason names
    /// Shopify. A cancel is idempotent by nature, so it runs in its own
    /// transaction and the delivery is recorded after it: a crash between the
    /// two leaves a redelivery that cancels nothing more.
    private func cancelled(
        _ body: [UInt8], _ delivery: Delivery, metadata: inout Logger.Metadata, logger: Logger
    ) async throws -> (Taken, UUID?) {
        let order: ShopifyOrder
        do {
            order = try ShopifyOrder.parse(body)
        } catch {
            // Nothing to cancel by: dead-lettered like a create no order can be made of.
            let channel = try await publisher.channel(logger: logger, metadata: metadata)
            let (queues, publisher) = (queues, publisher)
            let taken = try await database.withTransaction { connection -> Taken in
                guard try Self.record(delivery, outcome: .deadLettered, on: connection) else { return .duplicate }
                try publisher.publishConfirmed([Self.deadLetter(body, error, delivery, orderId: nil, queues: queues)], on: channel, logger: logger)
                return .deadLettered
            }
            logger.warning("shopify cancel \(taken.rawValue)", metadata: metadata.merging([LogKey.error: "\(error)"]) { $1 })
            return (taken, nil)
        }
        let orderId = order.orderId(shop: delivery.shop, ids: orderIDs)
        metadata[LogKey.orderId] = .string(UUIDText.string(orderId))
        // The signature covers the body, not the topic header: a signed body of an order
        // that is not cancelled (a replayed orders/create) must not cancel it.
        guard order.cancelledAt != nil else {
            let taken = try await database.withTransaction { try Self.record(delivery, outcome: .ignored, on: $0) } ? Taken.ignored : .duplicate
            logger.warning("shopify cancel ignored: the order in the body has no cancelled_at", metadata: metadata)
            return (taken, orderId)
        }
        let reason = order.cancellationReason
        let (reference, routing, logMetadata) = (order.reference(shop: delivery.shop), routing, metadata)
        let taken = try await database.withConnection { connection -> Taken in
            guard try connection.query("SELECT 1 FROM shopify_webhook_events WHERE webhook_id = $1", [delivery.webhookId]).first == nil else {
                return .duplicate
            }
            let outcome: Taken
            do {
                // The id is derived, so it is ours: a cancel ahead of the order's row leaves a QUEUED row cancelled.
                _ = try OrderCommands.cancel(
                    orderId, reason: reason, actor: .system, queuedIfAbsent: true, channel: reference, routing: routing, on: connection)
                outcome = .cancelled
            } catch let refusal as CommandRefusal {
                logger.warning("shopify cancel refused by the order's lifecycle", metadata: logMetadata.merging([LogKey.reason: "\(refusal)"]) { $1 })
                outcome = .cancelRefused
            }
            return try connection.withTransaction { try Self.record(delivery, outcome: outcome, on: $0) } ? outcome : .duplicate
        }
        logger.info("shopify webhook \(taken.rawValue)", metadata: metadata)
        return (taken, orderId)
    }

    // MARK: Shared

    /// Inserts the delivery's row; false when it was taken before (this
    /// waits for a concurrent delivery of the same id to commit or roll back).
    private static func record(_ delivery: Delivery, outcome: Taken, on connection: PostgresConnection) throws -> Bool {
        try connection.query(
            """
            INSERT INTO shopify_webhook_events (webhook_id, topic, shop, outcome) VALUES ($1, $2, $3, $4)
            ON CONFLICT (webhook_id) DO NOTHING
            """, [delivery.webhookId, delivery.topic, delivery.shop, outcome.rawValue]
        ).affectedRows == 1
    }

    private struct Answer: Encodable {
        let status: String
        let orderId: String?
    }

    private static func answer(_ taken: Taken, orderId: UUID?) throws -> Response {
        try JSONResponse.make(Answer(status: taken.status, orderId: orderId.map(UUIDText.string)))
    }
}
