import Metrics

/// The movements one ``MovementStore/markApplied(_:on:)`` turned from PENDING
/// to APPLIED, per vendor. Counted (`vendor_movements_applied_total{vendor}`)
/// only once the transaction that marked them has committed, by whichever
/// process marked them: each movement is counted once, however many copies of
/// it were delivered and whoever recorded it.
public struct AppliedMovements: Sendable, Hashable {
    public let byVendor: [String: Int]

    public init(byVendor: [String: Int]) {
        self.byVendor = byVendor
    }

    public var total: Int { byVendor.values.reduce(0, +) }

    public func count() {
        for (vendor, movements) in byVendor where movements > 0 { Self.counter(vendor).increment(by: movements) }
    }

    /// Shows each vendor's counter at 0 before its first movement, so a scrape
    /// (and an alert rule over a rate) finds the family from the start.
    public static func expose(vendors: some Sequence<String>) {
        for vendor in vendors { _ = counter(vendor) }
    }

    private static func counter(_ vendor: String) -> Counter {
        Counter(label: "vendor_movements_applied_total", dimensions: [("vendor", vendor)])
    }
}
