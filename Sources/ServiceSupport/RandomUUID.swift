import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

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
                do { try FileDescriptorIO.readAll(source, into: &bytes) } catch { return nil }
                next = 0
            }
            defer { next += 16 }
            return bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: next, as: uuid_t.self) }
        }
    }

    public static func make() -> UUID {
        guard var uuid = pool.withLock({ $0.take() }) else { return UUID() }
        uuid.6 = (uuid.6 & 0x0F) | 0x40  // version 4
        uuid.8 = (uuid.8 & 0x3F) | 0x80  // RFC 9562 variant
        return UUID(uuid: uuid)
    }
}
