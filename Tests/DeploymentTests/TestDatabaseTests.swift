import Foundation
import Testing
import TestSupport

/// The tests' data stays out of the databases `scripts/run` seeds for the demo:
/// the test run has databases of its own, whether scripts/test sets the
/// variables, a plain `swift test` falls back on the defaults, or the shell
/// still points the variables at the demo databases.
@Suite("Test databases")
struct TestDatabaseTests {
    @Test func theTestRunUsesDatabasesOfItsOwn() throws {
        let demo = TestEnvironment.demoDatabaseNames
        #expect(demo.count == 3, "the daemons' defaults name the orders database and two vendor databases: \(demo)")
        let urls = [TestEnvironment.databaseURL] + TestEnvironment.vendorDatabaseURLs.map(\.url)
        #expect(urls.count == demo.count, "one test database for each demo database")
        for url in urls {
            let name = try #require(TestEnvironment.databaseName(of: url), "\(url) names no database")
            #expect(!demo.contains(name), "the tests would write into the demo database \(name)")
            #expect(name.hasSuffix(TestEnvironment.testSuffix), "\(name) is not a test database")
        }
    }

    /// scripts/test (through common.sh) and TestEnvironment derive the same names.
    @Test func scriptsTestExportsTheDatabasesTheTestsDefaultTo() throws {
        let common = TestEnvironment.repositoryRoot.appendingPathComponent("scripts/common.sh").path
        let script = """
            set -euo pipefail
            unset DATABASE_URL VENDOR_DATABASE_URLS
            PROG=check
            source '\(common)'
            use_test_databases
            printf '%s\\n%s\\n' "$DATABASE_URL" "$VENDOR_DATABASE_URLS"
            """
        let output = try Command.run("/bin/bash", ["-c", script])
        #expect(output.status == 0, "\(output.stderr)")
        let expected = [
            TestEnvironment.defaultDatabaseURL,
            TestEnvironment.defaultVendorDatabaseURLs.map { "\($0.vendor)=\($0.url)" }.joined(separator: ","),
        ]
        #expect(output.stdout.split(separator: "\n").map(String.init) == expected)
    }

    @Test func aTestDatabaseNameIsTheGivenNameWithASuffix() {
        #expect(TestEnvironment.testDatabaseURL("postgres://u:p@h:5432/ordersdb?sslmode=disable")
                == "postgres://u:p@h:5432/ordersdb_test?sslmode=disable")
        #expect(TestEnvironment.testDatabaseURL("postgres://u:p@h/ordersdb_test") == "postgres://u:p@h/ordersdb_test")
    }
}
