/// What pgbench printed for one run: its throughput and average latency, and
/// whether every transaction succeeded.
public struct PgbenchReport: Sendable, Equatable {
    public let tps: Int
    public let latencyAverage: String
    public let failed: Int?

    public init(_ text: String) throws(BenchReportError) {
        guard let tps = Self.number(after: "tps = ", in: text) else { throw BenchReportError("pgbench printed no tps") }
        self.tps = Int(tps.rounded())
        latencyAverage = Self.number(after: "latency average = ", in: text).map { "\($0) ms" } ?? "?"
        failed = Self.number(after: "number of failed transactions: ", in: text).map { Int($0) }
    }

    private static func number(after marker: String, in text: String) -> Double? {
        for line in text.split(whereSeparator: \.isNewline) {
            guard let start = line.range(of: marker)?.upperBound else { continue }
            let digits = line[start...].prefix { $0.isNumber || $0 == "." }
            if let value = Double(digits) { return value }
        }
        return nil
    }
}

public struct BenchReportError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
