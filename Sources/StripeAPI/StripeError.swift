import Foundation

/// Why a gateway call did not succeed, in the four kinds a caller must tell
/// apart: a decline is a business answer (never retried), an unavailable
/// gateway is waited for (no retry spent), a server error is retried (each
/// one spent), anything else the gateway refused is permanent. No case ever
/// holds the secret key or a request's headers.
public enum StripeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A card error (HTTP 402): the issuer's decline code, or Stripe's error code when it gives none.
    case declined(code: String)
    /// The gateway is away: connection refused or reset, a timeout, 502/503/504.
    case unavailable(detail: String)
    /// The gateway answered but failed: another 5xx, 429, or a success body it could not have meant.
    case serverError(status: Int)
    /// Any other 4xx: the gateway refused the call, and the same call will be refused again.
    case rejected(status: Int, code: String?, message: String)

    public var description: String {
        switch self {
        case .declined(let code): "declined: \(code)"
        case .unavailable(let detail): "gateway unavailable: \(detail)"
        case .serverError(let status): "gateway server error: HTTP \(status)"
        case .rejected(let status, let code, let message): "gateway refused the call: HTTP \(status)\(code.map { " \($0)" } ?? ""): \(message)"
        }
    }

    /// The error an HTTP answer that is not a 2xx means. `body` is Stripe's
    /// `{"error": {"type", "code"?, "decline_code"?, "message"}}` when it sent one.
    public static func classify(status: Int, body: [UInt8]) -> StripeError {
        let detail = try? JSONDecoder().decode(ErrorBody.self, from: Data(body)).error
        switch status {
        case 402:
            return .declined(code: detail?.declineCode ?? detail?.code ?? "card_declined")
        // 429: the gateway asks us to slow down. Like a gateway that is away it says
        // nothing about the call, so it waits without spending a retry.
        case 429, 502, 503, 504:
            return .unavailable(detail: "HTTP \(status)")
        case 500...599:
            return .serverError(status: status)
        default:
            return .rejected(status: status, code: detail?.code, message: detail?.message ?? "HTTP \(status)")
        }
    }

    private struct ErrorBody: Decodable {
        struct Detail: Decodable {
            let code: String?
            let declineCode: String?
            let message: String?

            enum CodingKeys: String, CodingKey {
                case code, message
                case declineCode = "decline_code"
            }
        }

        let error: Detail
    }
}
