import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Order ids. A request with an `Idempotency-Key` gets an id derived from the
/// key (UUID version 5), so the same key always yields the same order id and
/// the worker's unique order id applies it once, whatever was published twice.
public enum OrderID {
    /// The UUIDv5 namespace of idempotency keys (itself a fixed random UUID).
    static let namespace = UUID(uuidString: "6f1c2b8e-3d4a-4e5f-9a7b-0c1d2e3f4a5b")!

    public static func make(idempotencyKey: String?) -> UUID {
        guard let key = idempotencyKey else { return RandomUUID.make() }
        var bytes = withUnsafeBytes(of: namespace.uuid, Array.init)
        bytes.append(contentsOf: Array(key.utf8))
        var hash = Array(SHA1.digest(bytes).prefix(16))
        hash[6] = (hash[6] & 0x0F) | 0x50  // version 5
        hash[8] = (hash[8] & 0x3F) | 0x80  // RFC 4122 variant
        return hash.withUnsafeBytes { UUID(uuid: $0.load(as: uuid_t.self)) }
    }
}

/// Version 4 (random) UUIDs from a pool of kernel random bytes.
///
/// Foundation's `UUID()` opens, reads and closes /dev/urandom for every id:
/// three system calls per order in order-api and per allocation in the worker.
/// Here /dev/urandom stays open and one read fills the pool for 256 ids; the
/// bytes are the same (the kernel's CSPRNG), so the ids stay unguessable.
public enum RandomUUID {
    private static let pool = Mutex(Pool())

    private struct Pool {
        static let size = 4096
        var bytes = [UInt8](repeating: 0, count: Pool.size)
        var next = Pool.size
        let source = open("/dev/urandom", O_RDONLY | O_CLOEXEC)

        /// 16 fresh bytes, refilling the pool when it is used up; nil if the kernel refuses.
        mutating func take() -> uuid_t? {
            if next == Pool.size {
                guard source >= 0 else { return nil }
                var filled = 0
                while filled < Pool.size {
                    let count = bytes.withUnsafeMutableBytes { read(source, $0.baseAddress! + filled, Pool.size - filled) }
                    if count < 0, errno == EINTR { continue }
                    guard count > 0 else { return nil }
                    filled += count
                }
                next = 0
            }
            defer { next += 16 }
            return bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: next, as: uuid_t.self) }
        }
    }

    public static func make() -> UUID {
        guard var uuid = pool.withLock({ $0.take() }) else { return UUID() }
        uuid.6 = (uuid.6 & 0x0F) | 0x40  // version 4
        uuid.8 = (uuid.8 & 0x3F) | 0x80  // RFC 4122 variant
        return UUID(uuid: uuid)
    }
}

/// SHA-1, only for UUIDv5 (RFC 9562 specifies it); not used for anything secret.
enum SHA1 {
    static func digest(_ message: [UInt8]) -> [UInt8] {
        var h: [UInt32] = [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0]
        var data = message
        let bitLength = UInt64(message.count) * 8
        data.append(0x80)
        while data.count % 64 != 56 { data.append(0) }
        data += withUnsafeBytes(of: bitLength.bigEndian, Array.init)
        var w = [UInt32](repeating: 0, count: 80)
        for chunk in stride(from: 0, to: data.count, by: 64) {
            for i in 0..<16 {
                w[i] = (0..<4).reduce(0) { $0 << 8 | UInt32(data[chunk + i * 4 + $1]) }
            }
            for i in 16..<80 {
                let x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]
                w[i] = x << 1 | x >> 31
            }
            var (a, b, c, d, e) = (h[0], h[1], h[2], h[3], h[4])
            for i in 0..<80 {
                let (f, k): (UInt32, UInt32) =
                    switch i {
                    case 0..<20: ((b & c) | (~b & d), 0x5A82_7999)
                    case 20..<40: (b ^ c ^ d, 0x6ED9_EBA1)
                    case 40..<60: ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC)
                    default: (b ^ c ^ d, 0xCA62_C1D6)
                    }
                let temp = (a << 5 | a >> 27) &+ f &+ e &+ k &+ w[i]
                (e, d, c, b, a) = (d, c, b << 30 | b >> 2, a, temp)
            }
            h[0] &+= a; h[1] &+= b; h[2] &+= c; h[3] &+= d; h[4] &+= e
        }
        return h.flatMap { withUnsafeBytes(of: $0.bigEndian, Array.init) }
    }
}
