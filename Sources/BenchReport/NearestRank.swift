/// Percentiles by nearest rank: the p-quantile of n values is the value of
/// rank ⌈p·n⌉ (at least 1) in ascending order, one of the measured values
/// (PostgreSQL's `percentile_disc` picks the same one).
public enum NearestRank {
    /// The 1-based rank of the p-quantile among `count` values.
    public static func rank(_ p: Double, count: Int) -> Int {
        max(1, Int((p * Double(count)).rounded(.up)))
    }

    /// The p-quantile of `sorted` (ascending) when `count` values were taken
    /// and only the first `sorted.count` of them were measured; the others rank
    /// after every measured one, so a rank beyond them is `.beyond`.
    public static func quantile<Value>(_ p: Double, of sorted: [Value], outOf count: Int? = nil) -> Quantile<Value> {
        let count = count ?? sorted.count
        guard count > 0 else { return .none }
        let rank = rank(p, count: count)
        return rank <= sorted.count ? .value(sorted[rank - 1]) : .beyond
    }
}

public enum Quantile<Value> {
    case value(Value)
    /// It falls on a value that was not measured (ranked after every measured one).
    case beyond
    /// No values at all.
    case none
}

extension Quantile: Sendable where Value: Sendable {}
extension Quantile: Equatable where Value: Equatable {}
