import ServiceSupport

/// Samples read out of Prometheus's text format (what `GET /metrics` answers).
public struct MetricsText: Sendable {
    public struct Sample: Sendable, Hashable {
        public let name: String
        public let labels: [String: String]
        public let value: Double
    }

    public let samples: [Sample]

    public init(_ text: String) {
        samples = text.split(separator: "\n").compactMap(Self.sample)
    }

    /// This process's metrics, as its daemons serve them.
    public static var process: MetricsText {
        MetricsText(String(decoding: ProcessMetrics.exposition(), as: UTF8.self))
    }

    /// The sum of the samples named `name` whose labels include `labels`; nil when there is none.
    public func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        let matching = samples.filter { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }
        return matching.isEmpty ? nil : matching.reduce(0) { $0 + $1.value }
    }

    /// The family a sample's name belongs to: a histogram's without its `_bucket`, `_sum` or `_count`.
    public static func family(of name: String) -> String {
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) { return String(name.dropLast(suffix.count)) }
        return name
    }

    /// `name{a="x",b="y"} 1.5` or `name 1.5`; comments and blank lines are nil. Label values here never hold `",`.
    private static func sample(_ line: Substring) -> Sample? {
        guard !line.hasPrefix("#"), let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { return nil }
        let series = line[..<space]
        guard let open = series.firstIndex(of: "{") else { return Sample(name: String(series), labels: [:], value: value) }
        var labels: [String: String] = [:]
        for pair in series[series.index(after: open)..<series.index(before: series.endIndex)].split(separator: "\",") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { continue }
            labels[String(parts[0])] = String(parts[1].drop(while: { $0 == "\"" }).prefix { $0 != "\"" })
        }
        return Sample(name: String(series[..<open]), labels: labels, value: value)
    }
}

extension MetricsText {
    /// Reads this process's metrics until `read` finds something (a polled gauge's first value); nil after `timeout`.
    public static func eventually<T>(timeout: Duration = .seconds(10), _ read: (MetricsText) -> T?) async throws -> T? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let found = read(process) { return found }
            try await Task.sleep(for: .milliseconds(50))
        }
        return read(process)
    }
}
