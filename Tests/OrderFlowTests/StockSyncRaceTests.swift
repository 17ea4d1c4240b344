import Foundation
import Postgres
import TestSupport
import Testing

/// stock-sync against a product added while it runs. Alone in scripts/test's
/// second phase: it holds a vendorA stock row so that a sync waits there, and
/// reads which sessions wait on locks, which no other test may muddle.
@Suite(.timeLimit(.minutes(2))) struct SoloStockSyncRaceTests {
    /// A sync lists the vendor's stock rows, locks them, reads the ledger and
    /// the vendor's stock, then writes the figures. A product added after the
    /// list was read has a row the sync did not lock: an order can take its
    /// units after the ledger was read, and writing the vendor's figure then
    /// would put them back (sellable twice). The sync must leave that row to
    /// its next run. (A loaded run of the parallel suites caught this: two
    /// tests' fresh products read back their full stock after orders took it.)
    @Test func aProductAddedWhileASyncRunsIsNotWrittenByThatSync() async throws {
        try await OrderSystemFixture.with { system in
            let listed = try system.vendorProduct("race-listed", stock: ["vendorA": 5])
            let blocker = try StockRowLock(listed)
            defer { blocker.release() }
            let sync = Task { try await system.stockSyncOnce(retryingLockTimeouts: false) }
            // The sync has listed its rows and waits for `listed` (it gives up after 2 s: be quick).
            try await Self.waitUntilASessionWaits(on: "%FROM vendor_stock%FOR UPDATE%")

            let added = try system.vendorProduct("race-added", stock: ["vendorA": 10])
            // An order takes all of it. (Its movement is left out: committed before the
            // sync's ledger read, the ledger would count it; the real race commits after.)
            try TestEnvironment.withOrdersDatabase {
                try $0.query("UPDATE vendor_stock SET stock = stock - 10 WHERE product_id = $1 AND vendor_id = 'vendorA'", [added])
            }
            blocker.release()
            let report = try await sync.value
            #expect(report.failed.isEmpty, "\(report.failed)")
            #expect(try system.stock(of: added) == ["vendorA": 0], "the order's units were not put back")
            #expect(try system.stock(of: listed) == ["vendorA": 5], "a listed row is written as before")
        }
    }

    /// Waits until a session of the test database waits on a lock running a statement like `pattern`.
    static func waitUntilASessionWaits(on pattern: String) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while try TestEnvironment.withOrdersDatabase({ connection in
            try connection.query(
                """
                SELECT count(*) FROM pg_stat_activity
                WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE $1 AND pid <> pg_backend_pid()
                """, [pattern]
            ).singleRow().decode(0, as: Int.self) == 0
        }) {
            guard ContinuousClock.now < deadline else { throw TimedOut(what: "a session waiting on \(pattern)") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}
