import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Kernel random bytes, read 4 KiB at a time from a /dev/urandom kept open.
///
/// Foundation's `UUID()` opens, reads and closes /dev/urandom for every id,
/// and `SystemRandomNumberGenerator` makes a `getrandom` system call for every
/// 8 bytes: per order, three system calls in order-api and per allocation in
/// the worker, and three more for each trace a message starts (a fifth of the
/// worker's trace work in a drain). Here one read serves 256 ids; the bytes
/// are the same (the kernel's CSPRNG), so ids stay unguessable.
enum KernelRandomPool {
    private static let pool = Mutex(Pool())

    private struct Pool {
        static let size = 4096
        var bytes = [UInt8](repeating: 0, count: Pool.size)
        var next = Pool.size
        let source = open("/dev/urandom", O_RDONLY | O_CLOEXEC)

        /// `T`'s size in fresh bytes, refilling the pool when too few are left; nil if the kernel refuses.
        mutating func take<T: BitwiseCopyable>(_: T.Type) -> T? {
            if next + MemoryLayout<T>.size > Pool.size {
                guard source >= 0 else { return nil }
                do { try FileDescriptorIO.readAll(source, into: &bytes) } catch { return nil }
                next = 0
            }
            defer { next += MemoryLayout<T>.size }
            return bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: next, as: T.self) }
        }
    }

    static func take<T: BitwiseCopyable>(_ type: T.Type) -> T? {
        pool.withLock { $0.take(type) }
    }
}

/// Version 4 (random) UUIDs from the ``KernelRandomPool``.
public enum RandomUUID {
    public static func make() -> UUID {
        guard var uuid = KernelRandomPool.take(uuid_t.self) else { return UUID() }
        uuid.6 = (uuid.6 & 0x0F) | 0x40  // version 4
        uuid.8 = (uuid.8 & 0x3F) | 0x80  // RFC 9562 variant
        return UUID(uuid: uuid)
    }
}

/// A `RandomNumberGenerator` drawing from the ``KernelRandomPool`` (the
/// system's generator when the pool cannot be read): trace and span ids.
public struct PooledRandomNumberGenerator: RandomNumberGenerator {
    private var fallback = SystemRandomNumberGenerator()

    public init() {}

    public mutating func next() -> UInt64 {
        KernelRandomPool.take(UInt64.self) ?? fallback.next()
    }
}
