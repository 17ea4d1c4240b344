import Crypto
import Hummingbird

/// A shared secret a client presents as `Authorization: Bearer <token>`.
///
/// Only the token's digest is kept and compared with the presented token's:
/// digests have one length and compare in constant time, so neither the
/// token's length nor its first wrong byte shows in how long a refusal takes.
public struct BearerToken: Sendable {
    private let digest: SHA256Digest

    public init(_ token: String) {
        digest = SHA256.hash(data: Array(token.utf8))
    }

    /// Whether the request presents this token.
    public func isPresented(in request: Request) -> Bool {
        guard let authorization = request.headers[.authorization], let token = Self.token(in: authorization) else { return false }
        return SHA256.hash(data: Array(token.utf8)) == digest
    }

    /// The token of `Bearer <token>`. The scheme is case-insensitive and
    /// may be followed by several spaces (RFC 9110, 11.1 and 11.4), which
    /// hummingbird-auth's reading (exactly `Bearer `) does not allow.
    public static func token(in authorization: String) -> Substring? {
        let value = Substring(authorization)
        guard let space = value.firstIndex(of: " "), value[..<space].lowercased() == "bearer" else { return nil }
        let token = value[space...].drop { $0 == " " }
        return token.isEmpty ? nil : token
    }
}
