import Crypto
import Foundation

/// The order ids one deployment issues: UUIDs (version 8, RFC 9562) that
/// carry a keyed MAC, so that order-api recognises an id as its own without
/// a database row (a QUEUED order has none until a worker decides it) and
/// nobody without `ORDER_ID_SECRET` can compute or forge one.
///
/// Layout: bytes 0–9 are the nonce (74 bits once the version and variant
/// bits are set), bytes 10–15 a 48-bit tag, HMAC-SHA256(tag key, nonce)
/// truncated. The nonce is random, or for a request with an
/// `Idempotency-Key` HMAC-SHA256(nonce key, key) truncated: the same key
/// gives the same id (the worker applies it once), but knowing a key does
/// not reveal its id. Two keys derived from the secret keep the uses apart.
///
/// Odds: a forged id verifies once in 2^48 tries; two random ids collide
/// with probability n²/2^75 (1 in 38,000 after a billion orders).
public struct OrderID: Sendable {
    /// The shortest secret accepted: 16 bytes.
    public static let minimumSecretBytes = 16

    /// The two MACs, keyed once: each id copies the keyed state rather
    /// than hashing the key again.
    private let nonceMAC: HMAC<SHA256>
    private let tagMAC: HMAC<SHA256>

    public struct WeakSecret: Error, CustomStringConvertible {
        public var description: String { "ORDER_ID_SECRET must be at least \(OrderID.minimumSecretBytes) bytes" }
    }

    public init(secret: String) throws(WeakSecret) {
        guard secret.utf8.count >= Self.minimumSecretBytes else { throw WeakSecret() }
        let master = SymmetricKey(data: Array(secret.utf8))
        func derived(_ label: String) -> HMAC<SHA256> {
            HMAC(key: SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Array(label.utf8), using: master))))
        }
        nonceMAC = derived("order-id nonce")
        tagMAC = derived("order-id tag")
    }

    /// The id of the order a client sends with this `Idempotency-Key`.
    public func make(idempotencyKey key: String) -> UUID {
        var mac = nonceMAC
        mac.update(data: Array(key.utf8))
        return mac.finalize().withUnsafeBytes { sign(nonce: $0) }
    }

    /// A fresh id from `randomness`' first ten bytes (a version 4 UUID
    /// from `RandomUUID`: OrderCore does no I/O).
    public func make(randomness: UUID) -> UUID {
        withUnsafeBytes(of: randomness.uuid) { sign(nonce: $0) }
    }

    /// Whether this deployment issued `id`; constant time in the tag, so
    /// how long a refusal takes does not tell how much of a guess was right.
    public func isOurs(_ id: UUID) -> Bool {
        withUnsafeBytes(of: id.uuid) { bytes in
            guard bytes[6] >> 4 == 8, bytes[8] >> 6 == 0b10 else { return false }
            let expected = tag(of: UnsafeRawBufferPointer(rebasing: bytes[0..<Self.nonceBytes]))
            var difference: UInt8 = 0
            for index in 0..<Self.tagBytes { difference |= expected[index] ^ bytes[Self.nonceBytes + index] }
            return difference == 0
        }
    }

    private static let nonceBytes = 10
    private static let tagBytes = 6

    /// The UUID of the nonce's first ten bytes, with the version and variant bits set, and its tag.
    private func sign(nonce source: UnsafeRawBufferPointer) -> UUID {
        var bytes = [UInt8](source.prefix(Self.nonceBytes))
        bytes[6] = (bytes[6] & 0x0F) | 0x80  // version 8
        bytes[8] = (bytes[8] & 0x3F) | 0x80  // RFC 9562 variant
        bytes += bytes.withUnsafeBytes { tag(of: $0) }
        return bytes.withUnsafeBytes { UUID(uuid: $0.loadUnaligned(as: uuid_t.self)) }
    }

    private func tag(of nonce: UnsafeRawBufferPointer) -> [UInt8] {
        var mac = tagMAC
        mac.update(data: nonce)
        return Array(mac.finalize().prefix(Self.tagBytes))
    }
}
