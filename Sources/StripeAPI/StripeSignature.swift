import Crypto
import Foundation
import TextCodecs

/// Verifies the `Stripe-Signature` header of a webhook delivery: `t=<unix
/// seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" keyed by the endpoint's
/// signing secret>` (Stripe may send several `v1` entries while a secret is
/// rolled; one that matches is enough). The timestamp must be within
/// `tolerance` of now, so a captured delivery cannot be replayed later, and the
/// comparison takes the same time whatever bytes differ.
public struct StripeSignature: Sendable {
    public enum Failure: Error, Sendable, Hashable, CustomStringConvertible {
        case missingHeader
        case malformedHeader
        case staleTimestamp(ageSeconds: Int)
        case mismatch

        public var description: String {
            switch self {
            case .missingHeader: "no Stripe-Signature header"
            case .malformedHeader: "Stripe-Signature must be t=<timestamp>,v1=<signature>"
            case .staleTimestamp(let age): "the signature's timestamp is \(age) s from now, beyond the tolerance"
            case .mismatch: "no v1 signature matches the body"
            }
        }
    }

    private let key: SymmetricKey
    public let tolerance: Duration

    public init(secret: String, tolerance: Duration = .seconds(300)) {
        key = SymmetricKey(data: Array(secret.utf8))
        self.tolerance = tolerance
    }

    /// Throws unless `header` signs `body` at a time within the tolerance of `now`.
    public func verify(header: String?, body: [UInt8], now: Date = Date()) throws(Failure) {
        guard let header, !header.isEmpty else { throw .missingHeader }
        var timestamp: Int64?
        var signatures: [[UInt8]] = []
        for part in header.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { continue }
            let name = pair[0].trimmingCharacters(in: .whitespaces)
            let value = pair[1].trimmingCharacters(in: .whitespaces)
            if name == "t" { timestamp = Int64(value) }
            if name == "v1", !value.isEmpty, let bytes = hexBytes(value) { signatures.append(bytes) }
        }
        guard let timestamp, !signatures.isEmpty else { throw .malformedHeader }
        let age = Int64(now.timeIntervalSince1970.rounded(.down)) - timestamp
        guard age.magnitude <= UInt64(tolerance.components.seconds) else { throw .staleTimestamp(ageSeconds: Int(clamping: age)) }
        let expected = Array(sign(body, timestamp: timestamp))
        // Every candidate is compared in full, so the time says nothing about which bytes matched.
        var matched = false
        for signature in signatures where Self.constantTimeEqual(signature, expected) { matched = true }
        guard matched else { throw .mismatch }
    }

    /// The `v1` signature of `body` at `timestamp`; tests sign the deliveries they play.
    public func sign(_ body: [UInt8], timestamp: Int64) -> HashedAuthenticationCode<SHA256> {
        var mac = HMAC<SHA256>(key: key)
        mac.update(data: Array("\(timestamp).".utf8))
        mac.update(data: body)
        return mac.finalize()
    }

    /// A whole `Stripe-Signature` header for `body` signed at `timestamp`.
    public func header(for body: [UInt8], timestamp: Int64) -> String {
        "t=\(timestamp),v1=" + hexString(sign(body, timestamp: timestamp))
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
