import Foundation

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
