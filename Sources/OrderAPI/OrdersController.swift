import AMQP
import Foundation
import HTTPTypes
import HTTPSupport
import Hummingbird
import Instrumentation
import Messaging
import OrderCore
import OrderStore
import Postgres
import ServiceSupport
import Shopify
import TextCodecs

/// Built once, here because a generic type cannot hold a static: building the
/// name validates and lowercases it, work no request needs to repeat.
private let idempotencyKeyField = HTTPField.Name("Idempotency-Key")!

/// `POST /order`, `POST /orders`, `GET /orders/{id}`, `GET /orders/{id}/events`,
/// and the lifecycle commands `POST /orders/{id}/cancel` and `/returns`.
struct OrdersController<Context: RequestContext>: Sendable {
    let publisher: ReconnectingPublisher
    let database: PostgresPool
    let idempotencyKeys: IdempotencyKeys
    let orderIDs: OrderID
    let authorization: CommandAuthorization
    let routing: OutboxRouting
    let queue: String
    let maxBodyBytes: Int
    let publishTimeout: Duration
    let paymentsRequired: Bool
    let prices: PriceCatalogue
    let intake = IntakeMetrics(channel: "api")

    func addRoutes(to router: HTTPRouter<Context>) {
        router.post("/order", use: intake.counting(create))
        router.post("/orders", use: intake.counting(create))
        router.get("/orders/{id}", use: show)
        router.get("/orders/{id}/events", use: events)
        router.post("/orders/{id}/cancel", use: cancel)
        router.post("/orders/{id}/returns", use: returns)
    }

    @Sendable func create(_ request: Request, context: Context) async throws -> Response {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > maxBodyBytes {
            throw Problem(status: .contentTooLarge, code: "body-too-large", title: "The request body is too large", detail: "at most \(maxBodyBytes) bytes")
        }
        try JSONMediaType.require(request)
        let key = try Self.validIdempotencyKey(request.headers[idempotencyKeyField])
        if let key, key.hasPrefix(Self.channelKeyPrefix) {
            // A channel order's id is derived from its key: a client holding one could take that order's id.
            throw Problem(
                status: .badRequest, code: "invalid-request", title: "The request is invalid",
                detail: "an Idempotency-Key starting with \"\(Self.channelKeyPrefix)\" is reserved for Shopify's orders",
                errors: [FieldError(field: "Idempotency-Key", message: "must not start with \"\(Self.channelKeyPrefix)\"")])
        }
        let body = try await request.body.collect(upTo: maxBodyBytes)
        let submission: OrderSubmission
        switch OrderRequest.parse(body.readableBytesView) {
        case .success(let valid): submission = valid
        case .failure(let failure): throw Problem.invalidBody(failure)
        }
        let lines = submission.lines
        try await checkPayment(of: submission)
        // Given back if the order is not accepted, so the client may use it again.
        var claimedKey: String?
        var storedOrderId: UUID?
        if let key {
            let claim = try await idempotencyKeys.claim(key, for: submission, logger: context.logger)
            if claim.isFirst { claimedKey = key }
            storedOrderId = claim.storedOrderId
        }

        // A key that already has an order answers with that order's id, the one its row has.
        let orderId = storedOrderId ?? key.map(orderIDs.make(idempotencyKey:)) ?? orderIDs.make(randomness: RandomUUID.make())
        let order = OrderPlaced(orderId: orderId, lines: lines, idempotencyKey: key, acceptedAt: Date(),
            reservationId: submission.reservationId, payment: submission.payment)
        var properties = order.amqpProperties(appID: "order-api")
        properties.propagate(ServiceContext.current?.traceContext)
        let id = properties.messageID ?? UUIDText.string(order.orderId)
        do {
            try await publisher.publish(order.encoded(), routingKey: queue, properties: properties, timeout: publishTimeout)
        } catch {
            if let claimedKey { idempotencyKeys.release(claimedKey, for: submission) }
            context.logger.warning("order not accepted: broker unavailable", metadata: [LogKey.orderId: .string(id), LogKey.error: "\(error)"])
            throw Problem(
                status: .serviceUnavailable, code: "broker-unavailable", title: "Orders cannot be accepted right now",
                detail: "the order was not accepted; retry later", retryAfterSeconds: 2)
        }
        context.logger.info("order accepted", metadata: [LogKey.orderId: .string(id), LogKey.lines: "\(lines.count)"])
        return Response(
            status: .accepted,
            headers: [.contentType: "application/json", .location: "/orders/\(id)"],
            body: .init(byteBuffer: ByteBuffer(bytes: Self.acceptedBody(orderId: id))))
    }

    /// An order that pays must buy priced products of one currency; with
    /// `PAYMENTS_REQUIRED` every order must pay. Orders without a payment are
    /// not looked at otherwise.
    private func checkPayment(of submission: OrderSubmission) async throws {
        guard submission.payment != nil else {
            guard !paymentsRequired else {
                throw Problem(
                    status: .badRequest, code: "payment-required", title: "The order needs a payment",
                    detail: #"send "payment": {"method": "<a Stripe PaymentMethod id>"}"#,
                    errors: [FieldError(field: "payment", message: "is required")])
            }
            return
        }
        switch await prices.check(submission.lines.map(\.productId)) {
        case .accepted:
            return
        case .unpriced(let products):
            throw Problem(
                status: .badRequest, code: "product-unpriced", title: "A product of the order has no price",
                detail: "no price for \(products.joined(separator: ", "))",
                errors: products.map { FieldError(field: "productId", message: "\($0) has no price") })
        case .mixedCurrency(let currencies):
            throw Problem(
                status: .badRequest, code: "mixed-currency", title: "The order's products are priced in several currencies",
                detail: "one order is paid in one currency; these products are priced in \(currencies.joined(separator: " and "))")
        }
    }

    /// The order as stored; an id this API issued that no worker has
    /// decided yet (no row) is QUEUED; any other id is unknown.
    @Sendable func show(_ request: Request, context: Context) async throws -> Response {
        let id = try Self.orderId(context)
        guard let details = try await database.withConnection({ try OrderQueries.order(id, on: $0) }) else {
            guard orderIDs.isOurs(id) else { throw Self.unknown(id) }
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: Self.acceptedBody(orderId: UUIDText.string(id)))))
        }
        return try JSONResponse.make(details)
    }

    private struct History: Encodable {
        @LowercaseUUID var orderId: UUID
        let events: [RecordedTransition]
    }

    /// The order's transitions, oldest first (none yet for a QUEUED order).
    @Sendable func events(_ request: Request, context: Context) async throws -> Response {
        let id = try Self.orderId(context)
        let history = try await database.withConnection { connection -> [RecordedTransition]? in
            guard try connection.query("SELECT 1 FROM orders WHERE id = $1", [id]).first != nil else { return nil }
            return try OrderHistory.transitions(of: id, on: connection)
        }
        guard let history else {
            guard orderIDs.isOurs(id) else { throw Self.unknown(id) }
            return try JSONResponse.make(History(orderId: id, events: []))
        }
        return try JSONResponse.make(History(orderId: id, events: history))
    }

    /// Cancels the order (`{"reason"}` optional). Cancelling is idempotent
    /// by nature: a cancelled order stays cancelled and one that cannot be
    /// cancelled never can again, so a retry, with or without its
    /// `Idempotency-Key`, gets the same answer and changes nothing more.
    @Sendable func cancel(_ request: Request, context: Context) async throws -> Response {
        try authorization.authorize(request)
        let id = try Self.orderId(context)
        _ = try Self.validIdempotencyKey(request.headers[idempotencyKeyField])
        let body = try await JSONBody.object(of: request, upTo: maxBodyBytes, emptyIsObject: true)
        var errors: [FieldError] = []
        let reason = Self.text("reason", in: body, errors: &errors)
        let actor = Self.actor(in: body, errors: &errors)
        Self.refuseUnknownFields(body, known: ["reason", "actor"], errors: &errors)
        guard errors.isEmpty else { throw Problem.invalidBody(ValidationFailure(errors)) }
        let (queuedIfAbsent, routing) = (orderIDs.isOurs(id), routing)
        let details = try await Problem.refusing {
            try await database.withConnection {
                try OrderCommands.cancel(id, reason: reason, actor: actor, queuedIfAbsent: queuedIfAbsent, routing: routing, on: $0)
            }
        }
        context.logger.info("order cancel", metadata: [LogKey.orderId: .string(UUIDText.string(id)), "status": "\(details.status.rawValue)"])
        return try JSONResponse.make(details)
    }

    /// Takes back `{"items":[{"productId","quantity"}]}` of a shipped or
    /// delivered order. A return is not idempotent by nature (two returns of
    /// one unit are two units), so a retry is recognised by its `Idempotency-Key`.
    @Sendable func returns(_ request: Request, context: Context) async throws -> Response {
        try authorization.authorize(request)
        let id = try Self.orderId(context)
        let key = try Self.validIdempotencyKey(request.headers[idempotencyKeyField])
        var body = try await JSONBody.object(of: request, upTo: maxBodyBytes)
        var errors: [FieldError] = []
        let actor = Self.actor(in: body, errors: &errors)
        body["actor"] = nil
        let items: [OrderLine]
        switch OrderRequest.validate(.object(body)) {
        case .success(let lines) where errors.isEmpty: items = lines
        case .success: throw Problem.invalidBody(ValidationFailure(errors))
        case .failure(let failure): throw Problem.invalidBody(ValidationFailure(failure.errors + errors))
        }
        let routing = routing
        let details = try await Problem.refusing {
            try await database.withConnection { try OrderCommands.returnItems(id, items: items, idempotencyKey: key, actor: actor, routing: routing, on: $0) }
        }
        context.logger.info("order return", metadata: [LogKey.orderId: .string(UUIDText.string(id)), LogKey.lines: "\(items.count)"])
        return try JSONResponse.make(details)
    }

    static func orderId(_ context: Context) throws -> UUID {
        guard let id = UUIDText.parse(context.parameters.get("id") ?? "") else {
            throw Problem(status: .badRequest, code: "invalid-order-id", title: "The order id is not a UUID", errors: [FieldError(field: "id", message: "must be a UUID")])
        }
        return id
    }

    static func unknown(_ id: UUID) -> Problem {
        Problem(status: .notFound, code: "order-not-found", title: "Unknown order", detail: "no order \(UUIDText.string(id))")
    }

    /// An optional string field of 1 to 500 characters.
    static func text(_ field: String, in body: [String: JSONValue], errors: inout [FieldError]) -> String? {
        switch body[field] {
        case nil, .null?: return nil
        case .string(let text)? where (1...500).contains(text.count): return text
        case .string?: errors.append(FieldError(field: field, message: "must be 1 to 500 characters"))
        case let other?: errors.append(FieldError(field: field, message: "must be a string, not \(other.typeName)"))
        }
        return nil
    }

    /// `"actor"`: who asked, `customer` (the default) or `operator`; `system` is the services' own.
    static func actor(in body: [String: JSONValue], errors: inout [FieldError]) -> OrderActor {
        switch body["actor"] {
        case nil, .null?: return .customer
        case .string(let name)? where name == OrderActor.customer.rawValue || name == OrderActor.operator.rawValue:
            return OrderActor(rawValue: name)!
        case _?:
            errors.append(FieldError(field: "actor", message: "must be customer or operator"))
            return .customer
        }
    }

    static func refuseUnknownFields(_ body: [String: JSONValue], known: Set<String>, errors: inout [FieldError]) {
        for key in body.keys.sorted() where !known.contains(key) {
            errors.append(FieldError(field: key, message: "is not a known field"))
        }
    }

    /// `{"orderId":…,"status":"QUEUED"}`, the bytes `JSONResponse` would
    /// give (sorted keys), written with the project's JSON string encoder:
    /// this answers every accepted order, and for this body `JSONEncoder`
    /// takes about 2.2 µs where this takes 0.15 µs (release build, 200,000
    /// runs), a cost order-api would pay on every accepted request.
    static func acceptedBody(orderId: String) -> [UInt8] {
        var writer = JSONWriter(capacity: 64)
        writer.raw(#"{"orderId":"#)
        writer.string(orderId)
        writer.raw(#","status":"QUEUED"}"#)
        return writer.bytes
    }

    /// The idempotency keys Shopify's orders are taken under (`ChannelOrderReference.idempotencyKey`).
    static var channelKeyPrefix: String { ShopifyOrder.channel + ":" }

    /// 1 to 255 visible ASCII characters.
    static func validIdempotencyKey(_ value: String?) throws -> String? {
        guard let value else { return nil }
        guard (1...255).contains(value.utf8.count), value.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else {
            throw Problem(
                status: .badRequest, code: "invalid-request", title: "The request is invalid",
                errors: [FieldError(field: "Idempotency-Key", message: "must be 1 to 255 visible ASCII characters")])
        }
        return value
    }
}
