import Foundation
import Testing
import TextCodecs

@Suite struct JSONWriterTests {
    private func written(_ body: (inout JSONWriter) -> Void) -> String {
        var writer = JSONWriter()
        body(&writer)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// JSONEncoder's escaping is the reference: every ASCII byte, one at a
    /// time and all together, and non-ASCII text.
    @Test func stringsAreEscapedAsJSONEncoderEscapesThem() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        var texts = (0...0x7F).map { String(UnicodeScalar(UInt8($0))) }
        texts.append(String(decoding: (0...0x7F).map { UInt8($0) }, as: UTF8.self) + "é€😀\u{FEFF}\u{2028}")
        for text in texts {
            let expected = String(decoding: try encoder.encode(text), as: UTF8.self)
            #expect(written { $0.string(text) } == expected, "\(Array(text.utf8))")
        }
    }

    /// RFC 8259 requires escapes below U+0020 only: DEL is written as is, as JSONEncoder writes it.
    @Test func deleteIsNotEscaped() {
        #expect(written { $0.string("a\u{7F}b") } == "\"a\u{7F}b\"")
        #expect(written { $0.string("\u{1F}\u{8}\u{C}") } == #""\u001f\b\f""#)
    }

    @Test func numbersAndLiterals() {
        #expect(written { $0.integer(Int64.min) } == "-9223372036854775808")
        #expect(written { $0.integer(Int64.max) } == "9223372036854775807")
        #expect(written { $0.integer(0) } == "0")
        #expect(written { $0.number(1.5) } == "1.5")
        #expect(written { $0.number(.infinity) } == "null")
        #expect(written { $0.number(.nan) } == "null")
        #expect(written { $0.bool(true); $0.raw(","); $0.bool(false) } == "true,false")
        #expect(written { $0.uuid(UUID(uuidString: "6F1C2B8E-3D4A-4E5F-9A7B-0C1D2E3F4A5B")!) } == #""6f1c2b8e-3d4a-4e5f-9a7b-0c1d2e3f4a5b""#)
    }
}
