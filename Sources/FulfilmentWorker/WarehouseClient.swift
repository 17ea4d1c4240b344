import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TextCodecs

/// The warehouse's (WMS) HTTP API: `POST {WMS_URL}/fulfillments` with the
/// order id as `Idempotency-Key`, so a request sent again after a lost answer
/// ships nothing twice. Every call has a deadline from connecting to the last
/// byte of the answer.
public struct WarehouseClient: Sendable {
    public struct Configuration: Sendable {
        /// Without a trailing slash.
        public var baseURL: String
        /// Sent as `Authorization: Bearer …` when set.
        public var token: String?
        public var timeout: Duration

        public init(baseURL: String, token: String?, timeout: Duration) {
            self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
            self.token = token
            self.timeout = timeout
        }
    }

    public let configuration: Configuration
    private let http: HTTPClient

    public init(configuration: Configuration, http: HTTPClient) {
        self.configuration = configuration
        self.http = http
    }

    /// Sends the request; returns the warehouse's 2xx status, or throws what went wrong.
    public func send(_ request: FulfilmentRequest) async throws(WarehouseError) -> Int {
        var call = HTTPClientRequest(url: configuration.baseURL + "/fulfillments")
        call.method = .POST
        call.headers.add(name: "Content-Type", value: "application/json")
        call.headers.add(name: "Idempotency-Key", value: UUIDText.string(request.orderId))
        if let token = configuration.token { call.headers.add(name: "Authorization", value: "Bearer \(token)") }
        call.body = .bytes(ByteBuffer(bytes: request.body))
        let status: Int
        let body: [UInt8]
        do {
            let response = try await http.execute(call, timeout: TimeAmount(configuration.timeout))
            status = Int(response.status.code)
            var buffer = try await response.body.collect(upTo: Self.maxAnswerBytes)
            body = buffer.readBytes(length: buffer.readableBytes) ?? []
        } catch {
            // Refused, reset, timed out or cut off: the warehouse is away. The transport's
            // description never carries the request's headers (the token).
            throw .unavailable(detail: "\(error)")
        }
        switch status {
        case 200..<300: return status
        case _ where Self.transientClientErrors.contains(status): throw .serverError(status: status, answer: Self.excerpt(body))
        case 400..<500: throw .refused(status: status, answer: Self.excerpt(body))
        default: throw .serverError(status: status, answer: Self.excerpt(body))
        }
    }

    /// 4xx answers that say nothing about the order, retried like a 5xx and counted
    /// against the breaker: our credentials or address are wrong (401, 403, 404: a
    /// wrong WMS_TOKEN or WMS_URL must hold orders back, not dead-letter every one),
    /// or the warehouse asks to come back later (408, 425, 429, and 409: a request
    /// under the same Idempotency-Key still in progress, as after a timed-out call).
    static let transientClientErrors: Set<Int> = [401, 403, 404, 408, 409, 425, 429]

    /// A warehouse's answer is short; a longer one is cut when read.
    private static let maxAnswerBytes = 1024 * 1024

    /// The start of an answer, for a reason message and the review flag.
    static func excerpt(_ body: [UInt8]) -> String {
        let text = String(decoding: body.prefix(excerptBytes), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return body.count > excerptBytes ? text + "…" : text
    }

    static let excerptBytes = 300
}

/// Why the warehouse did not take a request.
public enum WarehouseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No answer: refused, reset, timed out. Transient.
    case unavailable(detail: String)
    /// 5xx, or a 4xx that is not about the order (`transientClientErrors`): transient.
    case serverError(status: Int, answer: String)
    /// Any other 4xx (400, 422, …): the warehouse refuses the order itself; the same request would be refused again.
    case refused(status: Int, answer: String)

    public var description: String {
        switch self {
        case .unavailable(let detail): "warehouse unavailable: \(detail)"
        case .serverError(let status, let answer): "warehouse error \(status): \(answer)"
        case .refused(let status, let answer): "wms refused: \(status) \(answer)"
        }
    }
}
