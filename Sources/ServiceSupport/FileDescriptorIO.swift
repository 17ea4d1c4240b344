#if canImport(Glibc)
import Glibc
#endif

/// Whole-buffer `read` and `write` on a file descriptor. Both system calls
/// may move fewer bytes than asked (pipes, terminals, large buffers) and fail
/// with EINTR when a signal arrives before any byte moved; neither is an
/// error, so both go on until the buffer is done. The one place the project
/// loops over EINTR.
public enum FileDescriptorIO {
    /// Writes every byte; throws the `errno` of a failed write.
    public static func writeAll(_ descriptor: Int32, _ bytes: [UInt8]) throws(SystemCallError) {
        let failure = bytes.withUnsafeBytes { buffer in
            transfer(count: buffer.count) { offset in write(descriptor, buffer.baseAddress! + offset, buffer.count - offset) }
        }
        if let failure { throw failure }
    }

    /// Fills `bytes`; throws the `errno` of a failed read, or `EIO` when the
    /// descriptor ends first.
    public static func readAll(_ descriptor: Int32, into bytes: inout [UInt8]) throws(SystemCallError) {
        let failure = bytes.withUnsafeMutableBytes { buffer in
            transfer(count: buffer.count) { offset in read(descriptor, buffer.baseAddress! + offset, buffer.count - offset) }
        }
        if let failure { throw failure }
    }

    /// Calls `call` with the offset reached until `count` bytes have moved; the failure, if any.
    private static func transfer(count: Int, _ call: (Int) -> Int) -> SystemCallError? {
        var offset = 0
        while offset < count {
            let moved = call(offset)
            if moved > 0 {
                offset += moved
            } else if moved < 0 && errno == EINTR {
                continue
            } else {
                return SystemCallError(code: moved < 0 ? errno : EIO)
            }
        }
        return nil
    }
}

/// A failed system call's `errno`.
public struct SystemCallError: Error, CustomStringConvertible, Sendable {
    public let code: Int32

    public var description: String { String(cString: strerror(code)) }
}
