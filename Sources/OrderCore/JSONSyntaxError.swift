/// Why `JSONValue.parse` rejected its input, and at which byte.
public struct JSONSyntaxError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Reason: String, Sendable, Hashable {
        case unexpectedEnd = "unexpected end of input"
        case unexpectedByte = "unexpected byte"
        case invalidNumber = "invalid number"
        /// Beyond Double's range (`1e400`): no number to give.
        case numberOutOfRange = "number out of range"
        case invalidEscape = "invalid escape sequence"
        case loneSurrogate = "unpaired UTF-16 surrogate escape"
        case controlCharacter = "unescaped control character in a string"
        case invalidUTF8 = "invalid UTF-8"
        case tooDeep = "arrays and objects nested too deep"
        case trailingContent = "content after the JSON value"
        /// An object names a key twice (`{"a":1,"a":2}`): which one a reader
        /// takes differs between readers, so the text has no one meaning.
        case duplicateKey = "duplicate key"
    }

    public let reason: Reason
    /// Where the fault starts: for a duplicate key, its second occurrence.
    public let offset: Int
    /// For `.duplicateKey`: the key's path from the top, as validation names
    /// fields (`items[0].productId`); nil for other reasons.
    public let path: String?

    public init(reason: Reason, offset: Int, path: String? = nil) {
        self.reason = reason
        self.offset = offset
        self.path = path
    }

    public var description: String {
        guard let path else { return "\(reason.rawValue) at byte \(offset)" }
        return "\(reason.rawValue) \(path) at byte \(offset)"
    }

    /// For `.duplicateKey`, the field error a request's validation reports:
    /// the key's path, and that it came twice.
    public var duplicateField: FieldError? {
        guard reason == .duplicateKey, let path else { return nil }
        return FieldError(field: path, message: "appears more than once; send each field once")
    }

    /// The same error seen from the container that holds the member at
    /// `step` (`productId` inside `items[0]`): a path grows as the parser
    /// unwinds, so building it costs nothing on the way in.
    func inside(_ step: String) -> JSONSyntaxError {
        guard let path else { return self }
        return JSONSyntaxError(reason: reason, offset: offset, path: path.hasPrefix("[") ? step + path : step + "." + path)
    }
}
