import Foundation
import ServiceSupport
import Testing

@Suite struct RandomUUIDTests {
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
}
