import Foundation
import Testing

@testable import ServiceSupport

@Suite struct FileDescriptorIOTests {
    /// A pipe holds less than the buffer, so `write` stops short and the
    /// reader sees the bytes in several pieces: both loops must carry on.
    @Test func movesAWholeBufferThroughAPipeInPieces() async throws {
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        let (readEnd, writeEnd) = (fds[0], fds[1])
        defer { close(readEnd) }
        let sent = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let writer = Thread {
            try? FileDescriptorIO.writeAll(writeEnd, sent)
            close(writeEnd)
        }
        writer.start()
        var received = [UInt8](repeating: 0, count: sent.count)
        try FileDescriptorIO.readAll(readEnd, into: &received)
        #expect(received == sent)
    }

    @Test func aDescriptorThatEndsFirstIsAnError() throws {
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        defer { close(fds[0]) }
        try FileDescriptorIO.writeAll(fds[1], [1, 2, 3])
        close(fds[1])
        var buffer = [UInt8](repeating: 0, count: 4)
        let error = #expect(throws: SystemCallError.self) {
            try FileDescriptorIO.readAll(fds[0], into: &buffer)
        }
        #expect(error?.code == EIO)
    }

    @Test func aClosedDescriptorIsAnError() {
        let error = #expect(throws: SystemCallError.self) {
            try FileDescriptorIO.writeAll(-1, [1])
        }
        #expect(error?.code == EBADF)
    }
}
