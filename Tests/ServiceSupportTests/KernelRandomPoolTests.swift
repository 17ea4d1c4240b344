import Foundation
import ServiceSupport
import Testing
import W3CTraceContext

@Suite struct KernelRandomPoolTests {
    @Test func twoRandomIdsDiffer() {
        #expect(RandomUUID.make() != RandomUUID.make())
    }

    /// Many pools' worth (256 ids each): all distinct, all version 4 with the RFC 4122 variant.
    @Test func randomIdsAreVersion4AndDistinct() {
        var seen = Set<UUID>()
        for _ in 0..<10_000 {
            let id = RandomUUID.make()
            #expect(id.uuid.6 >> 4 == 4)
            #expect(id.uuid.8 >> 6 == 0b10)
            seen.insert(id)
        }
        #expect(seen.count == 10_000)
        // Each bit position takes both values: not a constant or a zeroed pool.
        let ors = seen.reduce(into: [UInt8](repeating: 0, count: 16)) { acc, id in withUnsafeBytes(of: id.uuid) { for i in 0..<16 { acc[i] |= $0[i] } } }
        let ands = seen.reduce(into: [UInt8](repeating: 0xFF, count: 16)) { acc, id in withUnsafeBytes(of: id.uuid) { for i in 0..<16 { acc[i] &= $0[i] } } }
        #expect(ors == [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x4F, 0xFF, 0xBF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
        #expect(ands == [0, 0, 0, 0, 0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, 0, 0])
    }

    /// Words and ids drawn in turn from the one pool (8 and 16 bytes, across
    /// many refills): all distinct, every bit both ways, and trace ids never null.
    @Test func generatedWordsInterleavedWithIdsAreDistinctAndUseEveryBit() {
        var generator = PooledRandomNumberGenerator()
        var words = Set<UInt64>()
        var ids = Set<UUID>()
        var ors: UInt64 = 0
        var ands: UInt64 = .max
        for _ in 0..<5_000 {
            let word = generator.next()
            words.insert(word)
            ors |= word
            ands &= word
            ids.insert(RandomUUID.make())
        }
        #expect(words.count == 5_000 && ids.count == 5_000)
        #expect(ors == .max && ands == 0)
        let traces = (0..<1_000).map { _ in TraceContext.newTrace() }
        #expect(Set(traces.map(\.traceID.description)).count == 1_000)
        #expect(!traces.contains { $0.traceID == .null || $0.spanID == .null })
    }
}
