/// The bench's product ids: a prefix (bench-u- uniform, bench-h- the hot one,
/// bench-s- the scaling rows') and a number zero-padded to four digits at
/// least: bench-u-0001 … bench-u-9999, bench-u-10000 …. The SQL that creates
/// them (bench-report) and scripts/bench-order.sql write them the same way.
public enum BenchProduct {
    public static func id(prefix: String, number: Int) -> String {
        let digits = String(number)
        return prefix + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
