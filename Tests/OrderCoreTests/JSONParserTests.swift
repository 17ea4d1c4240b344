import Foundation
import Testing
@testable import OrderCore

@Suite struct JSONParserTests {
    private func parse(_ text: String) throws(JSONSyntaxError) -> JSONValue {
        try JSONValue.parse(Array(text.utf8))
    }

    private func reason(_ bytes: [UInt8]) -> JSONSyntaxError.Reason? {
        do {
            _ = try JSONValue.parse(bytes)
            return nil
        } catch {
            return error.reason
        }
    }

    @Test(arguments: [
        ("null", JSONValue.null),
        ("true", .bool(true)),
        ("false", .bool(false)),
        (#""""#, .string("")),
        (#""abc""#, .string("abc")),
        (#""\"\\\/\b\f\n\r\t""#, .string("\"\\/\u{8}\u{C}\n\r\t")),
        (#""\u0041\u00e9\u20AC""#, .string("Aé€")),
        (#""\ud83d\ude00""#, .string("😀")),
        (#""\uD83D\uDE00x""#, .string("😀x")),
        (#""\u0000""#, .string("\u{0}")),
        ("\"é€😀\u{7F}\"", .string("é€😀\u{7F}")),
        (#""a\nb€""#, .string("a\nb€")),
        ("[]", .array([])),
        ("{}", .object([:])),
        (#"[1,"a",null,[true],{}]"#, .array([.integer(1), .string("a"), .null, .array([.bool(true)]), .object([:])])),
        (#"{"a":1,"b":{"c":[]},"":"e"}"#, .object(["a": .integer(1), "b": .object(["c": .array([])]), "": .string("e")])),
        (" \t\n\r[ 1 ,\n2 ] \r\n\t ", .array([.integer(1), .integer(2)])),
        (#"{ "a" : [ ] , "b" : { } }"#, .object(["a": .array([]), "b": .object([:])])),
    ])
    func acceptsValidJSON(text: String, expected: JSONValue) throws {
        #expect(try parse(text) == expected)
    }

    @Test(arguments: [
        ("0", JSONValue.integer(0)),
        ("-0", .integer(0)),
        ("123", .integer(123)),
        ("-123", .integer(-123)),
        ("9223372036854775807", .integer(.max)),
        ("-9223372036854775808", .integer(.min)),
        ("9223372036854775808", .number(9_223_372_036_854_775_808)),
        ("-9223372036854775809", .number(-9_223_372_036_854_775_808)),
        ("99999999999999999999999", .number(1e23)),
        ("1.0", .integer(1)),
        ("-0.0", .integer(0)),
        ("2e2", .integer(200)),
        ("2E+2", .integer(200)),
        ("-1.5e1", .integer(-15)),
        ("100e-2", .integer(1)),
        ("0e999999999999", .integer(0)),
        ("1e18", .integer(1_000_000_000_000_000_000)),
        ("9.223372036854775807e18", .integer(.max)),
        ("-9.223372036854775808e18", .integer(.min)),
        ("9.223372036854775808e18", .number(9.223372036854775808e18)),
        ("1e19", .number(1e19)),
        ("2.5", .number(2.5)),
        ("-2.5", .number(-2.5)),
        ("0.1", .number(0.1)),
        ("1e-2", .number(0.01)),
        ("1e300", .number(1e300)),
        ("1.0000000000000000001", .number(1)),
        ("12345678901234567.5", .number(12_345_678_901_234_567.5)),
        ("5e-324", .number(.leastNonzeroMagnitude)),
        ("1e-400", .number(0)),
        ("-1e-400", .number(-0.0)),
    ])
    func numberMapping(text: String, expected: JSONValue) throws {
        #expect(try parse(text) == expected)
        #expect(try parse("[\(text)]") == .array([expected]))
    }

    @Test(arguments: [
        ("", JSONSyntaxError.Reason.unexpectedEnd),
        (" \n", .unexpectedEnd),
        ("01", .invalidNumber),
        ("-01", .invalidNumber),
        ("00", .invalidNumber),
        ("[01]", .invalidNumber),
        ("1.", .unexpectedEnd),
        ("1.e5", .unexpectedByte),
        (".5", .unexpectedByte),
        ("+1", .unexpectedByte),
        ("-", .unexpectedEnd),
        ("-x", .unexpectedByte),
        ("1e", .unexpectedEnd),
        ("1e+", .unexpectedEnd),
        ("0x10", .trailingContent),
        ("1e400", .numberOutOfRange),
        ("-1e400", .numberOutOfRange),
        ("NaN", .unexpectedByte),
        ("Infinity", .unexpectedByte),
        ("tru", .unexpectedEnd),
        ("trUe", .unexpectedByte),
        ("True", .unexpectedByte),
        ("nul", .unexpectedEnd),
        ("nulll", .trailingContent),
        (#""abc"#, .unexpectedEnd),
        ("\"a\u{1}b\"", .controlCharacter),
        ("\"a\tb\"", .controlCharacter),
        ("\"a\nb\"", .controlCharacter),
        ("\"\\n\u{1F}\"", .controlCharacter),
        (#""\x""#, .invalidEscape),
        (#""\'""#, .invalidEscape),
        (#""\U0041""#, .invalidEscape),
        (#""\u12""#, .unexpectedEnd),
        (#""\u12G4""#, .invalidEscape),
        (#""\ud800""#, .loneSurrogate),
        (#""\udc00""#, .loneSurrogate),
        (#""\ud800\u0041""#, .loneSurrogate),
        (#""\ud800x""#, .loneSurrogate),
        (#""\ude00\ud83d""#, .loneSurrogate),
        ("'a'", .unexpectedByte),
        ("[1,]", .unexpectedByte),
        ("[,1]", .unexpectedByte),
        ("[1 2]", .unexpectedByte),
        ("[", .unexpectedEnd),
        ("[1", .unexpectedEnd),
        (#"{"a":1,}"#, .unexpectedByte),
        (#"{"a" 1}"#, .unexpectedByte),
        ("{a:1}", .unexpectedByte),
        (#"{"a":}"#, .unexpectedByte),
        ("{1:2}", .unexpectedByte),
        (#"{"a":1"#, .unexpectedEnd),
        (#"{"a""#, .unexpectedEnd),
        ("{", .unexpectedEnd),
        ("]", .unexpectedByte),
        ("1 2", .trailingContent),
        ("{}x", .trailingContent),
        ("[] []", .trailingContent),
        (#""a" "b""#, .trailingContent),
        ("/* comment */ 1", .unexpectedByte),
    ])
    func rejectsInvalidJSON(text: String, expected: JSONSyntaxError.Reason) {
        #expect(reason(Array(text.utf8)) == expected)
    }

    @Test(arguments: [
        ([0x22, 0xFF, 0x22], JSONSyntaxError.Reason.invalidUTF8),
        ([0x22, 0xC0, 0x80, 0x22], .invalidUTF8),              // overlong NUL
        ([0x22, 0xE0, 0x80, 0xAF, 0x22], .invalidUTF8),        // overlong '/'
        ([0x22, 0xED, 0xA0, 0x80, 0x22], .invalidUTF8),        // an encoded surrogate
        ([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], .invalidUTF8),  // above U+10FFFF
        ([0x22, 0xE2, 0x82, 0x22], .invalidUTF8),              // truncated
        ([0x22, 0xC3], .invalidUTF8),                          // truncated at the end
        ([0x22, 0x80, 0x22], .invalidUTF8),                    // lone continuation byte
        ([0x22, 0x5C, 0x6E, 0xFE, 0x22], .invalidUTF8),        // after an escape
        ([0xFF], .unexpectedByte),
        ([0xEF, 0xBB, 0xBF, 0x31], .unexpectedByte),           // a byte order mark
        ([0x31, 0x00], .trailingContent),
    ] as [([UInt8], JSONSyntaxError.Reason)])
    func rejectsInvalidUTF8(bytes: [UInt8], expected: JSONSyntaxError.Reason) {
        #expect(reason(bytes) == expected)
    }

    @Test func validUTF8OfEveryLength() throws {
        let text = "\u{7F}\u{80}\u{7FF}\u{800}\u{D7FF}\u{E000}\u{FFFF}\u{10000}\u{10FFFF}"
        #expect(try parse("\"\(text)\"") == .string(text))
        #expect(try parse("\"\\\"\(text)\"") == .string("\"" + text))
    }

    @Test func nestingIsLimited() throws {
        let depth = JSONValue.maximumDepth
        let deepest = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        var expected = JSONValue.array([])
        for _ in 1..<depth { expected = .array([expected]) }
        #expect(try parse(deepest) == expected)

        let tooDeep = String(repeating: "[", count: depth + 1) + String(repeating: "]", count: depth + 1)
        #expect(reason(Array(tooDeep.utf8)) == .tooDeep)
        let objects = String(repeating: #"{"a":"#, count: depth + 1) + "1" + String(repeating: "}", count: depth + 1)
        #expect(reason(Array(objects.utf8)) == .tooDeep)
        // Hostile input throws; it never recurses far enough to crash.
        #expect(reason(Array(repeating: UInt8(ascii: "["), count: 10_000)) == .tooDeep)
        #expect(reason(Array((String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)).utf8)) == .tooDeep)
        #expect(reason(Array(String(repeating: #"{"a":["#, count: 10_000).utf8)) == .tooDeep)
    }

    @Test func errorsSayWhere() {
        #expect(throws: JSONSyntaxError(reason: .unexpectedByte, offset: 6)) { try parse("[1, 2 x]") }
        #expect(throws: JSONSyntaxError(reason: .loneSurrogate, offset: 2)) { try parse(#"["\ud800"]"#) }
        #expect(throws: JSONSyntaxError(reason: .numberOutOfRange, offset: 1)) { try parse("[1e999]") }
        #expect(JSONSyntaxError(reason: .trailingContent, offset: 3).description == "content after the JSON value at byte 3")
    }

    /// A repeated key is refused wherever it sits, named by its path (as
    /// validation names fields) and placed at its second occurrence.
    @Test(arguments: [
        (#"{"a":1,"a":2}"#, "a", 7),
        (#"{"a":1,"a":1}"#, "a", 7),
        (#"{"\u0061":1,"a":true}"#, "a", 12),
        (#"{"productId":"p3","productId":"p1","quantity":1}"#, "productId", 18),
        (#"{"items":[{"productId":"p1","quantity":1},{"quantity":1,"quantity":2}]}"#, "items[1].quantity", 56),
        (#"[[{"x":{"y":0,"y":0}}]]"#, "[0][0].x.y", 14),
        (#"{"a":{},"b":{"a":{},"a":{}}}"#, "b.a", 20),
    ])
    func refusesDuplicateKeys(text: String, path: String, offset: Int) {
        #expect(throws: JSONSyntaxError(reason: .duplicateKey, offset: offset, path: path)) { try parse(text) }
    }

    @Test func theSameKeyInSiblingObjectsIsNoDuplicate() throws {
        #expect(try parse(#"[{"a":1},{"a":2}]"#) == .array([.object(["a": .integer(1)]), .object(["a": .integer(2)])]))
        #expect(try parse(#"{"a":{"a":1}}"#) == .object(["a": .object(["a": .integer(1)])]))
        #expect(JSONSyntaxError(reason: .duplicateKey, offset: 7, path: "items[0].a").description == "duplicate key items[0].a at byte 7")
    }

    @Test func anyCollectionOfBytes() throws {
        let text = #"{"items":[{"productId":"p1","quantity":2}]}"#
        let expected = try parse(text)
        #expect(try JSONValue.parse(Data(text.utf8)) == expected)
        #expect(try JSONValue.parse(text.utf8) == expected)
        #expect(try JSONValue.parse(Array(("xx" + text).utf8).dropFirst(2)) == expected)
        // Not contiguous: copied once.
        #expect(try JSONValue.parse(text.utf8.lazy.map { $0 }) == expected)
    }

    /// Where Foundation's decoder and the parser are meant to agree.
    @Test(arguments: [
        "0", "-0", "7", "-42", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
        "99999999999999999999999", "1.0", "2e2", "-1.5e1", "1e18", "2.5", "0.1", "1e300", "1e-300",
        #""a\u00e9\ud83d\ude00\n""#, #"[1,"x",null,true,false,{"a":[2.5]}]"#,
    ])
    func agreesWithTheDecodablePath(text: String) throws {
        let decoded = try JSONDecoder().decode(DecodedJSON.self, from: Data(text.utf8)).value
        #expect(try parse(text) == decoded)
    }

    /// Foundation's decoder also took `[1,]` and read `1e-400` as the integer 0;
    /// the parser is stricter there.
    @Test(arguments: ["1e400", "-1e400", "01", "[01]", "\"\\x\"", #""\ud800""#, "1 2"])
    func rejectsWhatTheDecodablePathRejected(text: String) {
        #expect(throws: (any Error).self) { try JSONDecoder().decode(DecodedJSON.self, from: Data(text.utf8)) }
        #expect(throws: JSONSyntaxError.self) { try parse(text) }
    }
}

/// Any JSON value read through JSONDecoder by trying each type in turn: the
/// oracle the parser is compared with (Foundation's reading of numbers and
/// strings), not a way the services read JSON.
private struct DecodedJSON: Decodable {
    let value: JSONValue

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            value = .null
        } else if let bool = try? container.decode(Bool.self) {
            value = .bool(bool)
        } else if let integer = try? container.decode(Int64.self) {
            value = .integer(integer)
        } else if let number = try? container.decode(Double.self) {
            value = .number(number)
        } else if let string = try? container.decode(String.self) {
            value = .string(string)
        } else if let array = try? container.decode([DecodedJSON].self) {
            value = .array(array.map(\.value))
        } else {
            value = .object(try container.decode([String: DecodedJSON].self).mapValues(\.value))
        }
    }
}
