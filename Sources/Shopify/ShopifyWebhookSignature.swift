import Crypto
import Foundation

/// Verifies `X-Shopify-Hmac-Sha256`: the base64 HMAC-SHA256 of the raw request
/// body keyed by the app's webhook secret. Checked before the body is parsed,
/// and compared in constant time, so the time taken says nothing about how
/// much of a forged signature was right.
public struct ShopifyWebhookSignature: Sendable {
    public enum Failure: Error, Sendable, Hashable, CustomStringConvertible {
        case missingHeader
        case malformedHeader
        case mismatch

        public var description: String {
            switch self {
            case .missingHeader: "no X-Shopify-Hmac-Sha256 header"
            case .malformedHeader: "X-Shopify-Hmac-Sha256 must be the base64 of a 32-byte HMAC-SHA256"
            case .mismatch: "X-Shopify-Hmac-Sha256 does not match the body"
            }
        }
    }

    private let key: SymmetricKey

    public init(secret: String) {
        key = SymmetricKey(data: Array(secret.utf8))
    }

    /// Throws unless `header` is the signature of `body`.
    public func verify(header: String?, body: [UInt8]) throws(Failure) {
        guard let header, !header.isEmpty else { throw .missingHeader }
        guard let given = Data(base64Encoded: header.trimmingCharacters(in: .whitespaces)), given.count == SHA256.byteCount else {
            throw .malformedHeader
        }
        guard HMAC<SHA256>.isValidAuthenticationCode(Array(given), authenticating: body, using: key) else { throw .mismatch }
    }

    /// The header value for `body`: what Shopify sends, and what tests and
    /// reconciliation sign their deliveries with.
    public func header(for body: [UInt8]) -> String {
        Data(HMAC<SHA256>.authenticationCode(for: body, using: key)).base64EncodedString()
    }
}
