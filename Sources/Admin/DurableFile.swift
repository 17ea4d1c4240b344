import Foundation
import ServiceSupport

/// A file written so that it survives a crash once `finish()` returns:
/// written, fsynced, closed, and its directory entry fsynced too.
final class DurableFile {
    let url: URL
    private var descriptor: Int32

    /// Creates the file; refuses to overwrite one unless `overwrite`.
    init(_ url: URL, overwrite: Bool) throws {
        self.url = url
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (overwrite ? O_TRUNC : O_EXCL)
        descriptor = open(url.path, flags, 0o600)
        guard descriptor >= 0 else {
            let code = errno
            if code == EEXIST { throw AdminError("\(url.path) already exists (use --force to overwrite it)") }
            throw AdminError("cannot create \(url.path): \(String(cString: strerror(code)))")
        }
    }

    func write(_ bytes: [UInt8]) throws {
        do {
            try FileDescriptorIO.writeAll(descriptor, bytes)
        } catch {
            throw AdminError("cannot write \(url.path): \(error)")
        }
    }

    /// fsync the file, close it, fsync its directory.
    func finish() throws {
        guard fsync(descriptor) == 0 else { throw AdminError("cannot fsync \(url.path): \(String(cString: strerror(errno)))") }
        close(descriptor)
        descriptor = -1
        let directory = open(url.deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directory >= 0 {
            defer { close(directory) }
            guard fsync(directory) == 0 else { throw AdminError("cannot fsync the directory of \(url.path): \(String(cString: strerror(errno)))") }
        }
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }
}
