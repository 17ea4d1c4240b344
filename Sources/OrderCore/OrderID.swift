import Crypto
import Foundation

/// Order ids derived from an `Idempotency-Key` (UUID version 5), so the same
/// key always yields the same order id and the worker's unique order id
/// applies it once, whatever was published twice. A request without a key
/// gets a random id (`RandomUUID` in ServiceSupport: randomness is I/O).
public enum OrderID {
    /// The UUIDv5 namespace of idempotency keys (itself a fixed random UUID).
    static let namespace = UUID(uuidString: "6f1c2b8e-3d4a-4e5f-9a7b-0c1d2e3f4a5b")!

    public static func make(idempotencyKey key: String) -> UUID {
        // RFC 9562 specifies SHA-1 for version 5; nothing secret depends on it.
        var sha1 = Insecure.SHA1()
        withUnsafeBytes(of: namespace.uuid) { sha1.update(bufferPointer: $0) }
        sha1.update(data: Array(key.utf8))
        var uuid = sha1.finalize().withUnsafeBytes { $0.loadUnaligned(as: uuid_t.self) }
        uuid.6 = (uuid.6 & 0x0F) | 0x50  // version 5
        uuid.8 = (uuid.8 & 0x3F) | 0x80  // RFC 9562 variant
        return UUID(uuid: uuid)
    }
}
