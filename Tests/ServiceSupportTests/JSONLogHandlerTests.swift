import Foundation
import Logging
import Testing
import TextCodecs

@testable import ServiceSupport

@Suite struct JSONLogHandlerTests {
    private func object(_ bytes: [UInt8]) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    @Test func writesOneValidObjectWithSortedKeys() throws {
        let time = timespec(tv_sec: 1_795_230_245, tv_nsec: 123_456_789)  // 2026-11-21T03:04:05.123456Z
        let bytes = JSONLogHandler.line(
            level: .info, label: "order-worker", message: "order applied",
            metadata: ["order_id": "3F2504E0-4F89-11D3-9A0C-0305E82C3301", "loop": "1"],
            extra: ["batch": .stringConvertible(64), "loop": "2"], now: time)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text == #"{"batch":"64","level":"info","logger":"order-worker","loop":"2","msg":"order applied","order_id":"3F2504E0-4F89-11D3-9A0C-0305E82C3301","ts":"2026-11-21T03:04:05.123456Z"}"#)
        let parsed = try object(bytes)
        #expect(parsed["loop"] as? String == "2")
    }

    /// The trace's ids come from the metadata provider: over the logger's
    /// metadata, under the line's own (a window's line about one order names that order's trace).
    @Test func providedMetadataSitsBetweenTheLoggersAndTheLines() throws {
        let bytes = JSONLogHandler.line(
            level: .info, label: "order-worker", message: "m", metadata: ["trace_id": "logger", "loop": "1"],
            provided: ["trace_id": "current", "span_id": "current-span"], extra: ["span_id": "line"])
        let parsed = try object(bytes)
        #expect(parsed["trace_id"] as? String == "current")
        #expect(parsed["span_id"] as? String == "line")
        #expect(parsed["loop"] as? String == "1")
    }

    @Test func escapesWhatJSONNeedsAndKeepsUnicode() throws {
        let nasty = "quote \" backslash \\ newline \n tab \t bell \u{07} slash / ünï €"
        let bytes = JSONLogHandler.line(level: .error, label: "x", message: nasty, metadata: [:], extra: ["error": .string(nasty)])
        let parsed = try object(bytes)
        #expect(parsed["msg"] as? String == nasty)
        #expect(parsed["error"] as? String == nasty)
        #expect(!bytes.contains(0x0A))
    }

    @Test func nestsArraysAndDictionariesAndKeepsFixedFields() throws {
        let bytes = JSONLogHandler.line(
            level: .warning, label: "api", message: "m", metadata: ["msg": "metadata cannot replace the message"],
            extra: ["list": .array(["a", .dictionary(["k": "v"])]), "map": .dictionary(["b": "2", "a": "1"])])
        let parsed = try object(bytes)
        #expect(parsed["msg"] as? String == "m")
        #expect(parsed["level"] as? String == "warning")
        let list = try #require(parsed["list"] as? [Any])
        #expect(list.first as? String == "a")
        #expect((list.last as? [String: String]) == ["k": "v"])
        #expect((parsed["map"] as? [String: String]) == ["a": "1", "b": "2"])
    }

    @Test func timestampIsUTCWithMicroseconds() throws {
        let cases: [(Int, Int, String)] = [
            (0, 0, "1970-01-01T00:00:00.000000Z"),
            (951_782_400, 5_000, "2000-02-29T00:00:00.000005Z"),
            (4_102_444_799, 999_999_999, "2099-12-31T23:59:59.999999Z"),
        ]
        for (seconds, nanos, expected) in cases {
            var out = JSONWriter()
            JSONLogHandler.appendTimestamp(timespec(tv_sec: seconds, tv_nsec: nanos), to: &out)
            #expect(String(decoding: out.bytes, as: UTF8.self) == "\"\(expected)\"")
        }
    }
}
