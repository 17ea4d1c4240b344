import Foundation

/// What a command prints: text for a person (`--output table`) or JSON for a script (`--output json`).
public protocol Renderable: Sendable {
    func render(_ format: OutputFormat) -> String
}

extension Report: Renderable {}

/// A JSON value built by the commands that print more than flat rows
/// (numbers stay numbers, nested objects stay nested). Objects are written
/// with sorted keys, so the same value always prints the same text.
public indirect enum OutputValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case string(String)
    case array([OutputValue])
    case object([String: OutputValue])

    public static func optional(_ text: String?) -> OutputValue { text.map(OutputValue.string) ?? .null }
    public static func optional(_ number: Int?) -> OutputValue { number.map { .int(Int64($0)) } ?? .null }

    /// Compact (one line) or indented with two spaces.
    public func json(pretty: Bool = true) -> String {
        var out = ""
        write(to: &out, pretty: pretty, indent: 0)
        return out
    }

    private func write(to out: inout String, pretty: Bool, indent: Int) {
        let newline = pretty ? "\n" : ""
        let pad = { (level: Int) in pretty ? String(repeating: "  ", count: level) : "" }
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .int(let value): out += String(value)
        case .uint(let value): out += String(value)
        case .double(let value): out += value.isFinite ? "\(value)" : "null"
        case .string(let value): Self.quote(value, into: &out)
        case .array(let items):
            guard !items.isEmpty else { out += "[]"; return }
            out += "[" + newline
            for (index, item) in items.enumerated() {
                out += pad(indent + 1)
                item.write(to: &out, pretty: pretty, indent: indent + 1)
                out += (index == items.count - 1 ? "" : ",") + newline
            }
            out += pad(indent) + "]"
        case .object(let members):
            guard !members.isEmpty else { out += "{}"; return }
            out += "{" + newline
            let keys = members.keys.sorted()
            for (index, key) in keys.enumerated() {
                out += pad(indent + 1)
                Self.quote(key, into: &out)
                out += pretty ? ": " : ":"
                members[key]!.write(to: &out, pretty: pretty, indent: indent + 1)
                out += (index == keys.count - 1 ? "" : ",") + newline
            }
            out += pad(indent) + "}"
        }
    }

    static func quote(_ text: String, into out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}

/// Durations as operators type them (`90s`, `10m`, `2h`, `1d`, `1h30m`) and as the commands print them.
public enum DurationText {
    /// Parses `<number><unit>` groups, units `ms`, `s`, `m`, `h`, `d`; nil when the text is not such a duration.
    public static func parse(_ text: String) -> TimeInterval? {
        // "ms" before "m", so 500ms is not read as 500 minutes followed by garbage.
        let units: [(String, TimeInterval)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        var rest = Substring(text.trimmingCharacters(in: .whitespaces).lowercased())
        guard !rest.isEmpty else { return nil }
        var total: TimeInterval = 0
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, let number = Double(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            guard let (unit, scale) = units.first(where: { rest.hasPrefix($0.0) }) else {
                return nil
            }
            rest = rest.dropFirst(unit.count)
            total += number * scale
        }
        return total
    }

    /// `45s`, `12m 05s`, `3h 20m`, `4d 6h`.
    public static func format(_ seconds: TimeInterval) -> String {
        let whole = max(0, Int(seconds.rounded(.down)))
        let days = whole / 86400, hours = whole % 86400 / 3600, minutes = whole % 3600 / 60, secs = whole % 60
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        if days > 0 { return "\(days)d \(hours)h" }
        if hours > 0 { return "\(hours)h \(two(minutes))m" }
        if minutes > 0 { return "\(minutes)m \(two(secs))s" }
        return "\(secs)s"
    }
}
