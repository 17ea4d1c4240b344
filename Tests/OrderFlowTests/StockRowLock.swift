import Postgres
import TestSupport

/// A session that holds a product's `vendor_stock` rows (SELECT … FOR UPDATE in an
/// open transaction), so whatever locks them next (a worker's window, a
/// stock-sync run) waits until `release`, or gives up at its lock timeout.
final class StockRowLock {
    private let connection: PostgresConnection

    init(_ product: String) throws {
        connection = try TestEnvironment.connectPostgres()
        try connection.query("BEGIN")
        try connection.query("SELECT stock FROM vendor_stock WHERE product_id = $1 FOR UPDATE", [product])
    }

    /// Rolls back (if the session still exists) and closes the session; a second call does nothing.
    func release() {
        _ = try? connection.query("ROLLBACK")
        connection.close()
    }
}
