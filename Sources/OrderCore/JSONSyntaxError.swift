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
    }

    public let reason: Reason
    public let offset: Int

    public var description: String { "\(reason.rawValue) at byte \(offset)" }
}
