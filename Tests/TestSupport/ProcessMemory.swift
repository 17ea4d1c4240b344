import Foundation

public enum ProcessMemory {
    /// This process's resident set size in bytes, from /proc/self/statm. Throws when it
    /// cannot be read: a reading of 0 would make any growth look like none.
    public static func residentBytes() throws -> Int {
        let path = "/proc/self/statm"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]), pages > 0 else {
            throw ChildProcessError(message: "\(path) has no resident page count: '\(text)'")
        }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Resident bytes after handing freed heap memory back to the kernel (glibc's
    /// malloc_trim), so what remains is what is still allocated, not what the
    /// allocator keeps for later: a leak stands out from allocator noise.
    public static func residentBytesInUse() throws -> Int {
        // malloc.h is not part of Swift's Glibc module: looked up by name.
        if let symbol = dlsym(nil, "malloc_trim") {
            typealias MallocTrim = @convention(c) (Int) -> Int32
            _ = unsafeBitCast(symbol, to: MallocTrim.self)(0)
        }
        return try residentBytes()
    }
}
