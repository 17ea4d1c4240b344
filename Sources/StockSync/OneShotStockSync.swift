import ServiceSupport

/// `stock-sync --once`: one sync over every vendor; its end ends the
/// ServiceGroup, and a vendor that failed fails it (exit status 1).
struct OneShotStockSync: OneShotService {
    let runner: StockSyncRunner

    func run() async throws {
        let report = try await runner.run()
        guard report.failed.isEmpty else { throw VendorsFailed(vendors: report.failed.map(\.vendor)) }
    }

    struct VendorsFailed: Error, CustomStringConvertible {
        let vendors: [String]
        var description: String { "stock sync failed for \(vendors.joined(separator: ", "))" }
    }
}
