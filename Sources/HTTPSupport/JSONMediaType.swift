import Hummingbird

/// Which request bodies the project's JSON endpoints read: `Content-Type`
/// `application/json` or any `…+json` (RFC 6839), case-insensitive, in UTF-8
/// (RFC 8259, 8.1: no charset parameter, or `charset=utf-8`). A body without
/// a Content-Type is not assumed to be JSON (RFC 9110, 8.3).
public enum JSONMediaType {
    /// A 415 problem unless the request declares a JSON body in UTF-8.
    public static func require(_ request: Request) throws {
        guard let type = request.headers[.contentType] else {
            throw Problem(
                status: .unsupportedMediaType, code: "unsupported-media-type", title: "Send application/json",
                detail: "the request has no Content-Type")
        }
        guard accepts(type) else {
            throw Problem(status: .unsupportedMediaType, code: "unsupported-media-type", title: "Send application/json", detail: "got \(type)")
        }
    }

    /// Byte by byte: Foundation's trimming and lowercasing cost a fifth of
    /// `POST /order`'s CPU.
    public static func accepts(_ contentType: String) -> Bool {
        let bytes = Substring(contentType).utf8
        var end = bytes.firstIndex(of: semicolon) ?? bytes.endIndex
        let media = trimmed(bytes[bytes.startIndex..<end])
        guard equalsIgnoringCase(media, "application/json") || (media.count > 5 && equalsIgnoringCase(media.suffix(5), "+json")) else {
            return false
        }
        // The parameters: only charset matters, and only UTF-8 is JSON.
        while end < bytes.endIndex {
            let start = bytes.index(after: end)
            end = bytes[start...].firstIndex(of: semicolon) ?? bytes.endIndex
            let parameter = bytes[start..<end]
            guard let equals = parameter.firstIndex(of: UInt8(ascii: "=")),
                equalsIgnoringCase(trimmed(parameter[parameter.startIndex..<equals]), "charset")
            else { continue }
            var value = trimmed(parameter[parameter.index(after: equals)...])
            if value.count >= 2, value.first == quote, value.last == quote { value = value.dropFirst().dropLast() }
            guard equalsIgnoringCase(value, "utf-8") else { return false }
        }
        return true
    }

    private static let semicolon = UInt8(ascii: ";")
    private static let quote = UInt8(ascii: "\"")

    private static func trimmed(_ bytes: Substring.UTF8View) -> Substring.UTF8View {
        func isSpace(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        var bytes = bytes
        while let first = bytes.first, isSpace(first) { bytes.removeFirst() }
        while let last = bytes.last, isSpace(last) { bytes.removeLast() }
        return bytes
    }

    /// `expected` is lower-case ASCII.
    private static func equalsIgnoringCase(_ bytes: Substring.UTF8View, _ expected: StaticString) -> Bool {
        func lower(_ byte: UInt8) -> UInt8 { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte }
        let expected = UnsafeBufferPointer(start: expected.utf8Start, count: expected.utf8CodeUnitCount)
        return bytes.count == expected.count && bytes.lazy.map(lower).elementsEqual(expected)
    }
}
