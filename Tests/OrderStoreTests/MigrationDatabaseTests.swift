import Foundation
import OrderStore
import Postgres
import TestSupport
import Testing

/// The repository's migrations and the runner, against fresh throwaway databases.
@Suite("Migrations against the live server")
struct MigrationDatabaseTests {
    static let ordersDirectory = TestEnvironment.repositoryRoot.appendingPathComponent("migrations")
    static let vendorDirectory = ordersDirectory.appendingPathComponent("vendor")

    private func tables(_ connection: PostgresConnection) throws -> Set<String> {
        Set(try connection.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        ).rows.map { try $0.decode(0, as: String.self) })
    }

    private func expectSQLState(
        _ code: PostgresError.Code, constraint: String? = nil, sourceLocation: SourceLocation = #_sourceLocation,
        _ body: () throws -> Void
    ) {
        let error = #expect(throws: PostgresError.self, sourceLocation: sourceLocation) { try body() }
        #expect(error?.code == code, "\(error.map(String.init(describing:)) ?? "no error")", sourceLocation: sourceLocation)
        if let constraint {
            #expect(error?.constraintName == constraint, sourceLocation: sourceLocation)
        }
    }

    @Test func ordersSchemaAppliesOnceAndEnforcesItsInvariants() throws {
        try TestEnvironment.withThrowawayDatabase("orders_mig") { configuration in
            let connection = try PostgresConnection(configuration: configuration)
            defer { connection.close() }
            let runner = MigrationRunner(directory: Self.ordersDirectory)
            let files = try runner.migrations()
            #expect(files.first?.fileName == "0001_initial.sql")
            #expect(try runner.pending(on: connection).map(\.version) == files.map(\.version))

            let applied = try runner.apply(on: connection)
            #expect(applied.map(\.version) == files.map(\.version))
            #expect(try tables(connection) == ["schema_migrations", "vendors", "products", "vendor_stock",
                                               "orders", "order_lines", "stock_movements", "order_transitions",
                                               "reservations", "outbox", "product_stock_levels", "order_return_requests",
                                               "payments", "payment_refunds", "payment_intents", "stripe_webhook_events",
                                               "sku_mappings", "shopify_webhook_events", "shipments", "channel_stock", "audit_log"])
            #expect(try runner.apply(on: connection).isEmpty, "a second run applies nothing")
            #expect(try runner.pending(on: connection).isEmpty)
            let recorded = try connection.query("SELECT version, name, checksum FROM schema_migrations ORDER BY version").rows
            #expect(try recorded.map { try $0.decode("version", as: Int.self) } == files.map(\.version))
            #expect(try recorded.map { try $0.decode("checksum", as: String.self) } == files.map(\.checksum))
            for status in try runner.status(on: connection) {
                guard case .applied = status.state else {
                    Issue.record("\(status) is not applied")
                    continue
                }
            }

            // Demo-shaped data.
            try connection.query("INSERT INTO vendors (id, name) VALUES ('vendorA', 'Vendor A'), ('vendorB', NULL)")
            try connection.query("INSERT INTO products (id, name) VALUES ('p1', 'Product 1'), ('p2', 'Product 2')")
            try connection.query("INSERT INTO vendor_stock (product_id, vendor_id, stock) VALUES ('p1', 'vendorA', 10), ('p2', 'vendorA', 15), ('p2', 'vendorB', 5)")
            let available = try connection.query("SELECT sum(stock)::int FROM vendor_stock WHERE product_id = $1", "p2").singleRow()
            #expect(try available.decode(0, as: Int.self) == 20)

            // Stock never goes negative.
            expectSQLState(.checkViolation, constraint: "vendor_stock_stock_nonnegative") {
                try connection.query("UPDATE vendor_stock SET stock = stock - $1 WHERE product_id = 'p1' AND vendor_id = 'vendorA'", 11)
            }
            expectSQLState(.checkViolation) {
                try connection.query("INSERT INTO vendor_stock (product_id, vendor_id, stock) VALUES ('p1', 'vendorB', -1)")
            }
            expectSQLState(.foreignKeyViolation) {
                try connection.query("INSERT INTO vendor_stock (product_id, vendor_id, stock) VALUES ('p1', 'vendorC', 1)")
            }
            expectSQLState(.checkViolation, constraint: "products_id_format") {
                try connection.query("INSERT INTO products (id) VALUES ($1)", "bad id!")
            }
            expectSQLState(.checkViolation, constraint: "products_id_format") {
                try connection.query("INSERT INTO products (id) VALUES ($1)", String(repeating: "x", count: 65))
            }

            // Orders, lines, allocations.
            let orderID = UUID()
            try connection.withTransaction { transaction in
                try transaction.query("INSERT INTO orders (id, idempotency_key, status, queued_at) VALUES ($1, $2, 'CONFIRMED', $3)",
                                      orderID, "key-1", Date())
                try transaction.query("INSERT INTO order_lines (order_id, line_no, product_id, quantity) VALUES ($1, 1, 'p2', 17)", orderID)
                try transaction.query("""
                    INSERT INTO stock_movements (id, order_id, line_no, vendor_id, product_id, quantity)
                    VALUES ($1, $3, 1, 'vendorA', 'p2', 15), ($2, $3, 1, 'vendorB', 'p2', 2)
                    """, UUID(), UUID(), orderID)
            }
            let pending = try connection.query(
                "SELECT count(*) FROM stock_movements WHERE vendor_id = $1 AND status = 'PENDING'", "vendorA").singleRow()
            #expect(try pending.decode(0, as: Int.self) == 1)
            let order = try connection.query("SELECT review_required, created_at, updated_at FROM orders WHERE id = $1", orderID).singleRow()
            #expect(try order.decode("review_required", as: Bool.self) == false)

            expectSQLState(.uniqueViolation) {  // the order id is unique: a redelivery cannot insert it twice
                try connection.query("INSERT INTO orders (id, status) VALUES ($1, 'CONFIRMED')", orderID)
            }
            expectSQLState(.uniqueViolation) {
                try connection.query("INSERT INTO orders (id, idempotency_key, status) VALUES ($1, 'key-1', 'CONFIRMED')", UUID())
            }
            expectSQLState(.checkViolation, constraint: "orders_status_valid") {
                try connection.query("INSERT INTO orders (id, status, reason) VALUES ($1, 'PENDING', 'not a state')", UUID())
            }
            expectSQLState(.checkViolation, constraint: "orders_reason_required") {
                try connection.query("INSERT INTO orders (id, status) VALUES ($1, 'REJECTED')", UUID())
            }
            try connection.query("INSERT INTO orders (id, status, reason) VALUES ($1, 'REJECTED', 'insufficient stock for p9')", UUID())
            expectSQLState(.checkViolation, constraint: "order_lines_quantity_range") {
                try connection.query("INSERT INTO order_lines VALUES ($1, 2, 'p1', 0)", orderID)
            }
            expectSQLState(.checkViolation, constraint: "order_lines_quantity_range") {
                try connection.query("INSERT INTO order_lines VALUES ($1, 2, 'p1', 1000001)", orderID)
            }
            expectSQLState(.checkViolation, constraint: "stock_movements_quantity_positive") {
                try connection.query("INSERT INTO stock_movements (id, order_id, line_no, vendor_id, product_id, quantity) VALUES ($1, $2, 1, 'vendorA', 'p1', 0)", UUID(), orderID)
            }
            expectSQLState(.foreignKeyViolation, constraint: "stock_movements_line_fk") {
                try connection.query("INSERT INTO stock_movements (id, order_id, line_no, vendor_id, product_id, quantity) VALUES ($1, $2, 9, 'vendorA', 'p1', 1)", UUID(), orderID)
            }
            expectSQLState(.foreignKeyViolation, constraint: "stock_movements_stock_fk") {  // vendorB does not stock p1
                try connection.query("INSERT INTO stock_movements (id, order_id, line_no, vendor_id, product_id, quantity) VALUES ($1, $2, 1, 'vendorB', 'p1', 1)", UUID(), orderID)
            }
            expectSQLState(.foreignKeyViolation, constraint: "stock_movements_stock_fk") {
                try connection.query("INSERT INTO stock_movements (id, order_id, line_no, vendor_id, product_id, quantity) VALUES ($1, $2, 1, 'vendorA', 'p404', 1)", UUID(), orderID)
            }
            expectSQLState(.checkViolation, constraint: "stock_movements_status_valid") {
                try connection.query("UPDATE stock_movements SET status = 'DONE' WHERE order_id = $1", orderID)
            }
            expectSQLState(.checkViolation, constraint: "stock_movements_applied_at_set") {
                try connection.query("UPDATE stock_movements SET status = 'APPLIED' WHERE order_id = $1", orderID)
            }
            let marked = try connection.query("UPDATE stock_movements SET status = 'APPLIED', applied_at = now() WHERE order_id = $1", orderID)
            #expect(marked.affectedRows == 2)
            // Deleting an order takes its lines and allocations with it.
            try connection.query("DELETE FROM orders WHERE id = $1", orderID)
            #expect(try connection.query("SELECT count(*) FROM stock_movements").singleRow().decode(0, as: Int.self) == 0)
        }
    }

    @Test func vendorSchemaAppliesOnceAndEnforcesItsInvariants() throws {
        try TestEnvironment.withThrowawayDatabase("vendor_mig") { configuration in
            let connection = try PostgresConnection(configuration: configuration)
            defer { connection.close() }
            let runner = MigrationRunner(directory: Self.vendorDirectory)
            let applied = try runner.apply(on: connection)
            #expect(applied.first?.fileName == "0001_initial.sql")
            #expect(try tables(connection) == ["schema_migrations", "products", "applied_movements"])
            #expect(try runner.apply(on: connection).isEmpty)

            try connection.query("INSERT INTO products (id, name, stock) VALUES ('p1', 'Product 1', 10)")
            expectSQLState(.checkViolation, constraint: "products_stock_nonnegative") {
                try connection.query("UPDATE products SET stock = stock - $1 WHERE id = $2", 11, "p1")
            }

            // Applying an allocation: decrement + record its id in one transaction.
            let allocation = UUID()
            let order = UUID()
            func applyAllocation() throws {
                try connection.withTransaction { transaction in
                    try transaction.query("INSERT INTO applied_movements (movement_id, order_id, product_id, quantity, kind) VALUES ($1, $2, 'p1', 3, 'allocate')",
                                          allocation, order)
                    try transaction.query("UPDATE products SET stock = stock - 3, updated_at = now() WHERE id = 'p1'")
                }
            }
            try applyAllocation()
            expectSQLState(.uniqueViolation, constraint: "applied_movements_pkey") { try applyAllocation() }
            let stock = try connection.query("SELECT stock FROM products WHERE id = 'p1'").singleRow().decode(0, as: Int.self)
            #expect(stock == 7, "the duplicate rolled back: decremented once")
            #expect(try connection.query("SELECT count(*) FROM applied_movements").singleRow().decode(0, as: Int.self) == 1)

            // Every applied movement says which vendor-bound kind it was; hold and release never reach a vendor.
            try connection.query("INSERT INTO applied_movements (movement_id, order_id, product_id, quantity, kind) VALUES ($1, $2, 'p1', 2, 'restock')",
                                 UUID(), order)
            expectSQLState(.checkViolation, constraint: "applied_movements_kind_valid") {
                try connection.query("INSERT INTO applied_movements (movement_id, order_id, product_id, quantity, kind) VALUES ($1, $2, 'p1', 1, 'hold')",
                                     UUID(), order)
            }
            expectSQLState(.notNullViolation) {
                try connection.query("INSERT INTO applied_movements (movement_id, order_id, product_id, quantity) VALUES ($1, $2, 'p1', 1)", UUID(), order)
            }
            let kinds = try connection.query("SELECT kind FROM applied_movements ORDER BY kind").rows.map { try $0.decode(0, as: String.self) }
            #expect(kinds == ["allocate", "restock"])
        }
    }

    @Test func aChangedFileIsDetected() throws {
        let directory = try TemporaryDirectory()
        try directory.copySQLFiles(from: Self.ordersDirectory)
        try directory.write("0900_extra.sql", "CREATE TABLE extra (id int PRIMARY KEY);\n")
        try TestEnvironment.withThrowawayDatabase("checksum_mig") { configuration in
            let connection = try PostgresConnection(configuration: configuration)
            defer { connection.close() }
            let runner = MigrationRunner(directory: directory.url)
            try runner.apply(on: connection)

            try directory.write("0900_extra.sql", "CREATE TABLE extra (id bigint PRIMARY KEY);\n")
            let error = #expect(throws: MigrationError.self) { try runner.apply(on: connection) }
            guard case .checksumMismatch(let version, let fileName, _, _) = error else {
                Issue.record("expected a checksum mismatch, got \(String(describing: error))")
                return
            }
            #expect(version == 900)
            #expect(fileName == "0900_extra.sql")
            #expect(error?.description.contains("0900_extra.sql") == true)
            #expect(throws: MigrationError.self) { try runner.pending(on: connection) }
            let status = try runner.status(on: connection).first { $0.version == 900 }
            guard case .checksumMismatch = status?.state else {
                Issue.record("status should report the mismatch: \(String(describing: status))")
                return
            }
            // Nothing was re-applied: the table still has the original column type.
            let type = try connection.query(
                "SELECT data_type FROM information_schema.columns WHERE table_name = 'extra' AND column_name = 'id'").singleRow()
            #expect(try type.decode(0, as: String.self) == "integer")
        }
    }

    @Test func aFailingFileIsRolledBackAndNotRecorded() throws {
        let directory = try TemporaryDirectory()
        try directory.write("0001_one.sql", "CREATE TABLE one (id int);")
        try directory.write("0002_two.sql", "CREATE TABLE two (id int);\nINSERT INTO two VALUES (1);\nSELEKT broken;")
        try directory.write("0003_three.sql", "CREATE TABLE three (id int);")
        try TestEnvironment.withThrowawayDatabase("failing_mig") { configuration in
            let connection = try PostgresConnection(configuration: configuration)
            defer { connection.close() }
            let runner = MigrationRunner(directory: directory.url)
            let error = #expect(throws: MigrationError.self) { try runner.apply(on: connection) }
            guard case .failed(let fileName, let underlying) = error else {
                Issue.record("expected .failed, got \(String(describing: error))")
                return
            }
            #expect(fileName == "0002_two.sql")
            #expect(underlying.code == .syntaxError)
            #expect(try tables(connection) == ["schema_migrations", "one"], "0002 left nothing behind, 0003 did not run")
            #expect(try runner.pending(on: connection).map(\.version) == [2, 3])
            #expect(connection.transactionStatus == .idle)

            try directory.write("0002_two.sql", "CREATE TABLE two (id int);\nINSERT INTO two VALUES (1);")
            #expect(try runner.apply(on: connection).map(\.version) == [2, 3])
            #expect(try tables(connection) == ["schema_migrations", "one", "two", "three"])
        }
    }

    @Test func aFileInsertedBeforeAppliedOnesIsRefused() throws {
        let directory = try TemporaryDirectory()
        try directory.write("0001_one.sql", "CREATE TABLE one (id int);")
        try directory.write("0003_three.sql", "CREATE TABLE three (id int);")
        try TestEnvironment.withThrowawayDatabase("order_mig") { configuration in
            let connection = try PostgresConnection(configuration: configuration)
            defer { connection.close() }
            let runner = MigrationRunner(directory: directory.url)
            try runner.apply(on: connection)
            try directory.write("0002_two.sql", "CREATE TABLE two (id int);")
            let error = #expect(throws: MigrationError.self) { try runner.apply(on: connection) }
            guard case .outOfOrder(let fileName, let latest) = error else {
                Issue.record("expected .outOfOrder, got \(String(describing: error))")
                return
            }
            #expect(fileName == "0002_two.sql")
            #expect(latest == 3)
            #expect(try !tables(connection).contains("two"))
        }
    }

    @Test func aFileWithItsOwnCommitIsReported() throws {
        let directory = try TemporaryDirectory()
        try directory.write("0001_one.sql", "CREATE TABLE one (id int); COMMIT;")
        try TestEnvironment.withThrowawayDatabase("commit_mig") { configuration in
            let connection = try PostgresConnection(configuration: configuration)
            defer { connection.close() }
            let error = #expect(throws: MigrationError.self) { try MigrationRunner(directory: directory.url).apply(on: connection) }
            guard case .fileEndedTransaction(let fileName) = error else {
                Issue.record("expected .fileEndedTransaction, got \(String(describing: error))")
                return
            }
            #expect(fileName == "0001_one.sql")
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func concurrentRunnersApplyEachFileOnce() async throws {
        let directory = try TemporaryDirectory()
        try directory.copySQLFiles(from: Self.ordersDirectory)
        let shipped = try MigrationRunner(directory: Self.ordersDirectory).migrations().map(\.version)
        let added = (shipped.max()! + 1)...(shipped.max()! + 5)
        for version in added {
            // Each file would fail if it ran twice (CREATE TABLE without IF NOT EXISTS).
            try directory.write(String(format: "%04d_table_%d.sql", version, version),
                                "CREATE TABLE concurrent_\(version) (id int); SELECT pg_sleep(0.05);")
        }
        let configuration = try TestEnvironment.createThrowawayDatabase("concurrent_mig")
        defer { TestEnvironment.dropThrowawayDatabase(configuration.database) }
        let url = directory.url
        let results: [Result<[Int], MigrationError>] = await onThreads(3) { _ in
            do {
                let connection = try PostgresConnection(configuration: configuration)
                defer { connection.close() }
                return .success(try MigrationRunner(directory: url).apply(on: connection).map(\.version))
            } catch let error as MigrationError {
                return .failure(error)
            } catch let error as PostgresError {
                return .failure(.failed(fileName: "(connection)", error: error))
            } catch {
                return .failure(.directoryUnreadable(path: "?", reason: "\(error)"))
            }
        }
        var appliedVersions: [Int] = []
        for result in results {
            switch result {
            case .success(let versions): appliedVersions += versions
            case .failure(let error): Issue.record("a runner failed: \(error)")
            }
        }
        #expect(appliedVersions.sorted() == shipped + Array(added), "every file applied exactly once across the runners")
        let connection = try PostgresConnection(configuration: configuration)
        defer { connection.close() }
        #expect(try connection.query("SELECT count(*) FROM schema_migrations").singleRow().decode(0, as: Int.self) == shipped.count + added.count)
    }
}
