import TextCodecs

/// Any JSON value: what `JSONValue.parse` reads (so validation can say exactly
/// which field has which wrong type: `true` is not a quantity, `2.5` is not an
/// integer) and what `orderctl --output json` writes.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public static func optional(_ text: String?) -> JSONValue { text.map(JSONValue.string) ?? .null }
    public static func optional(_ number: Int?) -> JSONValue { number.map { .integer(Int64($0)) } ?? .null }

    /// The JSON type's name, for error messages.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .integer, .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    /// The text, compact (one line) or indented with two spaces; objects with
    /// sorted keys, so the same value always prints the same text.
    public func json(pretty: Bool = true) -> String {
        var writer = JSONWriter()
        write(to: &writer, pretty: pretty, indent: 0)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    private func write(to writer: inout JSONWriter, pretty: Bool, indent: Int) {
        func newline(_ level: Int) {
            guard pretty else { return }
            writer.raw("\n")
            for _ in 0..<level { writer.raw("  ") }
        }
        switch self {
        case .null: writer.raw("null")
        case .bool(let value): writer.bool(value)
        case .integer(let value): writer.integer(value)
        case .number(let value): writer.number(value)
        case .string(let value): writer.string(value)
        case .array(let items):
            guard !items.isEmpty else { return writer.raw("[]") }
            writer.raw("[")
            for (index, item) in items.enumerated() {
                if index > 0 { writer.raw(",") }
                newline(indent + 1)
                item.write(to: &writer, pretty: pretty, indent: indent + 1)
            }
            newline(indent)
            writer.raw("]")
        case .object(let members):
            guard !members.isEmpty else { return writer.raw("{}") }
            writer.raw("{")
            for (index, key) in members.keys.sorted().enumerated() {
                if index > 0 { writer.raw(",") }
                newline(indent + 1)
                writer.string(key)
                if pretty { writer.raw(": ") } else { writer.raw(":") }
                members[key]!.write(to: &writer, pretty: pretty, indent: indent + 1)
            }
            newline(indent)
            writer.raw("}")
        }
    }
}
