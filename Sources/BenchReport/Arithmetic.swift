import Foundation

/// The bench's small sums, formatted as its tables print them.
public enum Arithmetic {
    /// a ÷ b with two decimals, "-" when either is zero (a phase not run).
    public static func ratio(_ a: Int, _ b: Int) -> String {
        guard a != 0, b != 0 else { return "-" }
        return String(format: "%.2f", Double(a) / Double(b))
    }

    /// Orders per second between the first and the last one: (count − 1) intervals over the span.
    /// A span under 10 ms is one or two windows (their orders share a transaction's start): then
    /// the count over `wallSeconds`, start-up included, is the honest figure.
    public static func rate(count: Int, spanSeconds: Double, wallSeconds: Double) -> Int {
        guard count > 1 else { return 0 }
        guard spanSeconds >= 0.01 else { return Int((Double(count) / max(wallSeconds, 0.001)).rounded()) }
        return Int((Double(count - 1) / spanSeconds).rounded())
    }

    /// A latency percentile in ms: ">Ns" when it falls on an order not CONFIRMED within the `wait`
    /// (it took longer than that), "-" with no orders.
    public static func milliseconds(_ quantile: Quantile<Double>, wait: Int) -> String {
        switch quantile {
        case .value(let ms): String(format: "%.1f", ms)
        case .beyond: ">\(wait)s"
        case .none: "-"
        }
    }

    /// p50/p99/p99.9 of latencies (ms) measured for some of `count` orders, the others ranking after them.
    public static func confirmLatency(_ measured: [Double], outOf count: Int, wait: Int) -> String {
        let sorted = measured.sorted()
        return [0.5, 0.99, 0.999].map { milliseconds(NearestRank.quantile($0, of: sorted, outOf: count), wait: wait) }
            .joined(separator: "/")
    }

    /// 1000000 as "1,000,000".
    public static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var groups: [Substring] = []
        var end = digits.endIndex
        while end > digits.startIndex {
            let start = digits.index(end, offsetBy: -3, limitedBy: digits.startIndex) ?? digits.startIndex
            groups.insert(digits[start..<end], at: 0)
            end = start
        }
        return (value < 0 ? "-" : "") + groups.joined(separator: ",")
    }
}
