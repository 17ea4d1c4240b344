/// Why an Admin API call did not succeed, in the kinds a caller must tell
/// apart: a transient failure (the API is away, failed, or asked us to slow
/// down) is tried again on a later pass and counts against the circuit
/// breaker; a refusal is permanent (the same call is refused again) and is
/// logged, not retried. No case holds the access token or a request's headers.
public enum ShopifyAdminError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Connection refused or reset, a timeout, an answer cut off.
    case unavailable(detail: String)
    /// A 5xx, or a success whose body is not what the API documents.
    case serverError(status: Int)
    /// 429 still, after waiting as long as each `Retry-After` asked.
    case throttled
    /// Any other 4xx: Shopify's `errors` text, or the status.
    case rejected(status: Int, message: String)

    /// Whether another try later may succeed (and the breaker should count it).
    public var isTransient: Bool {
        if case .rejected = self { return false }
        return true
    }

    public var description: String {
        switch self {
        case .unavailable(let detail): "Shopify Admin API unavailable: \(detail)"
        case .serverError(let status): "Shopify Admin API server error: HTTP \(status)"
        case .throttled: "Shopify Admin API throttled the call (429) after every Retry-After was honoured"
        case .rejected(let status, let message): "Shopify Admin API refused the call: HTTP \(status): \(message)"
        }
    }
}
