#if canImport(Glibc)
import Glibc
#endif

/// Whole-buffer `read` and `write` on a file descriptor. Both system calls
/// may move fewer bytes than asked (pipes, terminals, large buffers) and fail
/// with EINTR when a signal arrives before any byte moved; neither is an
/// error, so both go on until the buffer is done. The one place the project
/// loops over EINTR.
public enum FileDescriptorIO {
    /// Writes every byte of `buffer`; throws the `errno` of a failed write.
    public static func writeAll(_ descriptor: Int32, _ buffer: UnsafeRawBufferPointer) throws(SystemCallError) {
        guard let base = buffer.baseAddress else { return }
        try transfer(count: buffer.count) { offset in write(descriptor, base + offset, buffer.count - offset) }
    }

    /// Fills `buffer`; throws the `errno` of a failed read, or `EIO` when the
    /// descriptor ends first.
    public static func readAll(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(SystemCallError) {
        guard let base = buffer.baseAddress else { return }
        try transfer(count: buffer.count) { offset in read(descriptor, base + offset, buffer.count - offset) }
    }

    private static func transfer(count: Int, _ call: (Int) -> Int) throws(SystemCallError) {
        var offset = 0
        while offset < count {
            let moved = call(offset)
            if moved > 0 {
                offset += moved
            } else if moved < 0 && errno == EINTR {
                continue
            } else {
                throw SystemCallError(code: moved < 0 ? errno : EIO)
            }
        }
    }
}

/// A failed system call's `errno`.
public struct SystemCallError: Error, CustomStringConvertible, Sendable {
    public let code: Int32

    public var description: String { String(cString: strerror(code)) }
}
