import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// Calls Stripe's API (or localstripe's, which speaks the same): form-encoded
/// request bodies, `Authorization: Bearer <secret key>`, an `Idempotency-Key`
/// on every POST, and a deadline on every call. Non-blocking throughout: the
/// calls run on async-http-client's event loops and suspend the caller.
public struct StripeClient: Sendable {
    public struct Configuration: Sendable {
        /// `https://api.stripe.com`, or the emulator's address.
        public var apiBase: String
        public var secretKey: String
        /// Each call's deadline, from connecting to the last byte of the answer.
        public var timeout: Duration

        public init(apiBase: String, secretKey: String, timeout: Duration = .seconds(10)) {
            self.apiBase = apiBase.hasSuffix("/") ? String(apiBase.dropLast()) : apiBase
            self.secretKey = secretKey
            self.timeout = timeout
        }
    }

    public let configuration: Configuration
    private let http: HTTPClient

    /// `http` is shared by every call (its connection pool); the process-wide client by default.
    public init(configuration: Configuration, http: HTTPClient = .shared) {
        self.configuration = configuration
        self.http = http
    }

    // MARK: PaymentIntents

    /// Creates an intent for `amount` minor units of `currency` with `paymentMethod`,
    /// authorized only (`capture_method=manual`) and not yet confirmed, so the
    /// caller can record its id before anything is charged.
    public func createPaymentIntent(
        amount: Int, currency: String, paymentMethod: String, orderId: String, idempotencyKey: String
    ) async throws(StripeError) -> StripePaymentIntent {
        try await post(
            "/v1/payment_intents",
            [
                ("amount", "\(amount)"), ("currency", currency.lowercased()), ("payment_method", paymentMethod),
                ("capture_method", "manual"), ("metadata[order_id]", orderId), Self.expandCharge,
            ],
            idempotencyKey: idempotencyKey)
    }

    public func retrievePaymentIntent(_ id: String) async throws(StripeError) -> StripePaymentIntent {
        try await call(.GET, "/v1/payment_intents/\(Self.pathSegment(id))?" + Self.formEncoded([Self.expandCharge]), form: [], idempotencyKey: nil)
    }

    public func confirmPaymentIntent(_ id: String, idempotencyKey: String) async throws(StripeError) -> StripePaymentIntent {
        try await post("/v1/payment_intents/\(Self.pathSegment(id))/confirm", [Self.expandCharge], idempotencyKey: idempotencyKey)
    }

    /// Captures the whole authorized amount.
    public func capturePaymentIntent(_ id: String, idempotencyKey: String) async throws(StripeError) -> StripePaymentIntent {
        try await post("/v1/payment_intents/\(Self.pathSegment(id))/capture", [Self.expandCharge], idempotencyKey: idempotencyKey)
    }

    /// Cancels an intent not captured: its authorization is released.
    public func cancelPaymentIntent(_ id: String, idempotencyKey: String) async throws(StripeError) -> StripePaymentIntent {
        try await post("/v1/payment_intents/\(Self.pathSegment(id))/cancel", [Self.expandCharge], idempotencyKey: idempotencyKey)
    }

    /// Every intent answer carries its charge in full: Stripe sends `latest_charge` as
    /// an id unless asked to expand it, and the captured and refunded amounts are on the
    /// charge (localstripe always expands it, and ignores the parameter).
    static let expandCharge = ("expand[]", "latest_charge")

    // MARK: Refunds

    /// Refunds `amount` minor units of the intent's capture; the idempotency key
    /// also goes into the refund's metadata, where ``refunds(ofPaymentIntent:)`` finds it.
    public func createRefund(paymentIntent: String, amount: Int, idempotencyKey: String) async throws(StripeError) -> StripeRefund {
        try await post(
            "/v1/refunds",
            [("payment_intent", paymentIntent), ("amount", "\(amount)"), ("metadata[\(StripeRefund.idempotencyMetadataKey)]", idempotencyKey)],
            idempotencyKey: idempotencyKey)
    }

    /// The intent's refunds, newest first (the first hundred; an order has a refund per returned line at most).
    public func refunds(ofPaymentIntent id: String) async throws(StripeError) -> [StripeRefund] {
        let list: RefundList = try await call(
            .GET, "/v1/refunds?" + Self.formEncoded([("payment_intent", id), ("limit", "100")]), form: [], idempotencyKey: nil)
        return list.data
    }

    private struct RefundList: Decodable {
        let data: [StripeRefund]
    }

    // MARK: HTTP

    private func post<Answer: Decodable>(_ path: String, _ form: [(String, String)], idempotencyKey: String) async throws(StripeError) -> Answer {
        try await call(.POST, path, form: form, idempotencyKey: idempotencyKey)
    }

    private func call<Answer: Decodable>(
        _ method: HTTPMethod, _ path: String, form: [(String, String)], idempotencyKey: String?
    ) async throws(StripeError) -> Answer {
        var request = HTTPClientRequest(url: configuration.apiBase + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(configuration.secretKey)")
        if let idempotencyKey { request.headers.add(name: "Idempotency-Key", value: idempotencyKey) }
        if method == .POST {
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: Self.formEncoded(form)))
        }
        let status: Int
        let body: [UInt8]
        do {
            let response = try await http.execute(request, timeout: TimeAmount(configuration.timeout))
            status = Int(response.status.code)
            var buffer = try await response.body.collect(upTo: Self.maxAnswerBytes)
            body = buffer.readBytes(length: buffer.readableBytes) ?? []
        } catch {
            // Refused, reset, timed out, or cut off mid-answer: the gateway is away. The
            // description is the transport's and never carries the request's headers.
            throw .unavailable(detail: "\(error)")
        }
        guard (200..<300).contains(status) else { throw StripeError.classify(status: status, body: body) }
        do {
            return try JSONDecoder().decode(Answer.self, from: Data(body))
        } catch {
            // A success the client cannot read is the gateway's fault; another try may read.
            throw .serverError(status: status)
        }
    }

    /// Stripe's answers are small; anything larger is not one.
    private static let maxAnswerBytes = 4 * 1024 * 1024

    /// `application/x-www-form-urlencoded`, with every byte but the unreserved ones
    /// percent-encoded (brackets of `metadata[order_id]` included, as Stripe's libraries do).
    static func formEncoded(_ fields: [(String, String)]) -> String {
        fields.map { "\(percentEncoded($0.0))=\(percentEncoded($0.1))" }.joined(separator: "&")
    }

    private static func percentEncoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    /// An id from a message, as one path segment whatever it holds.
    private static func pathSegment(_ id: String) -> String { percentEncoded(id) }
}
