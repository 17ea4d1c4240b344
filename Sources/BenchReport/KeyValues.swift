/// The `key=value` words the harnesses print (bench-amqp, bench-load; pgbench's
/// own report is read by ``PgbenchReport``): for a key printed twice, the last wins.
public struct KeyValues: Sendable, Equatable {
    public private(set) var values: [String: String] = [:]

    public init(_ text: String) {
        for line in text.split(whereSeparator: \.isNewline) {
            for word in line.split(separator: " ") {
                guard let equals = word.firstIndex(of: "=") else { continue }
                values[String(word[..<equals])] = String(word[word.index(after: equals)...])
            }
        }
    }

    public subscript(key: String) -> String? { values[key] }

    /// The value of `key`, or `fallback` (a "?" in a table) when the output lacks it.
    public func text(_ key: String, or fallback: String = "?") -> String { values[key] ?? fallback }

    public func int(_ key: String) -> Int? { values[key].flatMap { Int($0) } }

    public func double(_ key: String) -> Double? { values[key].flatMap { Double($0) } }

    /// An accept-latency percentile of bench-load: "inf" is one that falls on requests not accepted.
    public func acceptMilliseconds(_ key: String) -> String {
        let value = text(key)
        return value == "inf" ? "not 202" : value
    }
}
