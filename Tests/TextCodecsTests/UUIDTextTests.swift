import Foundation
import Testing
import TextCodecs

@Suite struct UUIDTextTests {
    @Test func agreesWithFoundationOnWellFormedText() {
        for _ in 0..<1_000 {
            let id = UUID()
            #expect(UUIDText.parse(id.uuidString) == id)
            #expect(UUIDText.parse(id.uuidString.lowercased()) == id)
        }
        for text in ["00000000-0000-0000-0000-000000000000", "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF", "6f1c2B8E-3d4a-4E5F-9a7b-0C1d2e3f4a5b"] {
            #expect(UUIDText.parse(text) == UUID(uuidString: text))
            #expect(UUIDText.parse(text) != nil)
        }
    }

    @Test func appendWritesUUIDStringInLowerCase() {
        for _ in 0..<1_000 {
            let id = UUID()
            var bytes: [UInt8] = []
            UUIDText.append(id, to: &bytes)
            #expect(String(decoding: bytes, as: UTF8.self) == id.uuidString.lowercased())
            #expect(UUIDText.string(id) == id.uuidString.lowercased())
        }
        #expect(UUIDText.string(UUID(uuidString: "6F1C2B8E-3D4A-4E5F-9A7B-0C1D2E3F4A5B")!) == "6f1c2b8e-3d4a-4e5f-9a7b-0c1d2e3f4a5b")
    }

    @Test(arguments: [
        "", "x", "6f1c2b8e-3d4a-4e5f-9a7b-0c1d2e3f4a5", "6f1c2b8e-3d4a-4e5f-9a7b-0c1d2e3f4a5b0", "6f1c2b8e3d4a4e5f9a7b0c1d2e3f4a5b",
        "6f1c2b8e-3d4a-4e5f-9a7b_0c1d2e3f4a5b", "6f1c2b8e-3d4a-4e5f-9a7b-0c1d2e3f4a5g", "{6f1c2b8e-3d4a-4e5f-9a7b-0c1d2e3f4a5b}",
        " 6f1c2b8e-3d4a-4e5f-9a7b-0c1d2e3f4a5", "+f1c2b8e-3d4a-4e5f-9a7b-0c1d2e3f4a5b", "6f1c2b8e-3d4a-4e5f-9a7b-0c1d2e3f4a5é",
    ])
    func rejectsAnythingElse(text: String) {
        #expect(UUIDText.parse(text) == nil)
    }
}
