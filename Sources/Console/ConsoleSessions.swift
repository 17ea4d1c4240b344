import Crypto
import Foundation

/// A signed-in operator: who (the name typed at sign-in), until when, and
/// the random nonce the session's CSRF token is bound to.
public struct ConsoleSession: Sendable, Hashable {
    public let name: String
    public let expires: Date
    let nonce: String
}

/// Sign-in with `CONSOLE_TOKEN` and the session cookie that follows.
///
/// The cookie is `<payload>.<mac>`: the payload (name, expiry, nonce) in
/// base64url, signed with HMAC-SHA256 under a key derived from the token
/// (HKDF), so the token itself never leaves the server and changing it ends
/// every session. A form's CSRF token is the HMAC of the session's nonce
/// under the same key: it is bound to that session, a page of another origin
/// cannot read it, and no state is kept on the server. Every comparison is
/// constant-time (digests and `HMAC.isValidAuthenticationCode`).
public struct ConsoleSessions: Sendable {
    public static let cookieName = "console_session"
    /// How long a sign-in lasts.
    public let lifetime: TimeInterval
    private let tokenDigest: SHA256Digest
    private let key: SymmetricKey

    public init(token: String, lifetime: TimeInterval = 8 * 3600) {
        self.lifetime = lifetime
        tokenDigest = SHA256.hash(data: Array(token.utf8))
        key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: Array(token.utf8)), info: Array("order-console session".utf8), outputByteCount: 32)
    }

    /// Whether `presented` is the token: digests of one length compared in constant time.
    public func isToken(_ presented: String) -> Bool {
        SHA256.hash(data: Array(presented.utf8)) == tokenDigest
    }

    /// A new session for `name` and its cookie value.
    public func start(name: String, now: Date = Date()) -> (session: ConsoleSession, cookie: String) {
        let nonce = Self.base64URL(SymmetricKey(size: .bits128).withUnsafeBytes { Array($0) })
        let session = ConsoleSession(name: name, expires: now.addingTimeInterval(lifetime), nonce: nonce)
        let payload = Self.base64URL(Array("\(Int64(session.expires.timeIntervalSince1970))\n\(nonce)\n\(name)".utf8))
        return (session, payload + "." + Self.base64URL(Array(HMAC<SHA256>.authenticationCode(for: Array(payload.utf8), using: key))))
    }

    /// The session a cookie value stands for; nil when it is forged, altered or expired.
    public func session(fromCookie value: String, now: Date = Date()) -> ConsoleSession? {
        let parts = value.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let mac = Self.bytes(base64URL: parts[1]),
            HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: Array(parts[0].utf8), using: key),
            let payload = Self.bytes(base64URL: parts[0])
        else { return nil }
        let fields = String(decoding: payload, as: UTF8.self).split(separator: "\n", maxSplits: 2, omittingEmptySubsequences: false)
        guard fields.count == 3, let seconds = Int64(fields[0]) else { return nil }
        let expires = Date(timeIntervalSince1970: TimeInterval(seconds))
        guard expires > now else { return nil }
        return ConsoleSession(name: String(fields[2]), expires: expires, nonce: String(fields[1]))
    }

    /// The CSRF token every action form of this session carries.
    public func csrfToken(for session: ConsoleSession) -> String {
        Self.base64URL(Array(HMAC<SHA256>.authenticationCode(for: Array("csrf\n\(session.nonce)".utf8), using: key)))
    }

    /// Whether `presented` is this session's CSRF token (constant time).
    public func isCSRFToken(_ presented: String, for session: ConsoleSession) -> Bool {
        guard let mac = Self.bytes(base64URL: Substring(presented)) else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: Array("csrf\n\(session.nonce)".utf8), using: key)
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func bytes(base64URL text: Substring) -> [UInt8]? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64).map(Array.init)
    }
}
