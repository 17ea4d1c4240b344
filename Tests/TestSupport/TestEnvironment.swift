import Foundation
import ServiceSupport

/// Where the integration tests find the live broker and databases that
/// `scripts/services start` runs. The variables are the ones the daemons read;
/// when one is unset, the daemons' default applies (ServiceSupport's `Defaults`).
/// A test run never uses the databases they name, though, such as the demo
/// databases `scripts/run` seeds: it uses databases of its own, named after them
/// with `_test` appended (scripts/test creates and migrates them, and exports
/// their URLs), so even a shell set up for scripts/run keeps test rows out of
/// the demo data.
public enum TestEnvironment {
    public static var amqpURL: String {
        env(.amqpURL) ?? Defaults.amqpURL
    }

    public static var managementURL: String {
        env(.rabbitMQManagementURL) ?? Defaults.rabbitMQManagementURL
    }

    public static var databaseURL: String {
        testDatabaseURL(env(.databaseURL) ?? Defaults.databaseURL)
    }

    /// The vendor databases, from `VENDOR_DATABASE_URLS` (`name=url,name=url`).
    public static var vendorDatabaseURLs: [(vendor: String, url: String)] {
        parseNamedURLs(env(.vendorDatabaseURLs) ?? Defaults.vendorDatabaseURLs).map { ($0.vendor, testDatabaseURL($0.url)) }
    }

    /// The variables a process started by a test reads to find the broker and the
    /// databases, so that it lands where the test looks whatever the test's own environment.
    /// A queue worker's metrics server takes any free port: tests run several of one
    /// kind at once, and a stack of scripts/run may hold the default ports.
    public static var processEnvironment: [String: String] {
        [
            "AMQP_URL": amqpURL, "DATABASE_URL": databaseURL,
            "VENDOR_DATABASE_URLS": vendorDatabaseURLs.map { "\($0.vendor)=\($0.url)" }.joined(separator: ","),
            "ORDER_ID_SECRET": orderIdSecret, "API_TOKEN": apiToken, "METRICS_PORT": "0",
        ]
    }

    /// order-api's secrets in tests: fixed, so that ids one test's API issued
    /// are recognised by another instance the same test builds.
    public static let orderIdSecret = "test-order-id-secret-5f1d9c0b7e"
    public static let apiToken = "test-api-token-8a3e61"

    // MARK: Test databases

    /// The orders database when DATABASE_URL is unset: the daemons' default, renamed for tests.
    public static var defaultDatabaseURL: String { testDatabaseURL(Defaults.databaseURL) }

    /// The vendor databases when VENDOR_DATABASE_URLS is unset.
    public static var defaultVendorDatabaseURLs: [(vendor: String, url: String)] {
        parseNamedURLs(Defaults.vendorDatabaseURLs).map { ($0.vendor, testDatabaseURL($0.url)) }
    }

    /// The databases `scripts/run` seeds for the demo (the daemons' defaults), which tests must not touch.
    public static var demoDatabaseNames: Set<String> {
        Set(([Defaults.databaseURL] + parseNamedURLs(Defaults.vendorDatabaseURLs).map(\.url)).compactMap(databaseName(of:)))
    }

    /// The database a URL names (its path without the leading `/`).
    public static func databaseName(of url: String) -> String? {
        guard let path = URLComponents(string: url)?.path, path.count > 1 else { return nil }
        return String(path.dropFirst())
    }

    /// `url` with `_test` appended to its database name, unless the name already ends so.
    /// scripts/common.sh's `test_database_url` applies the same rule.
    public static func testDatabaseURL(_ url: String) -> String {
        guard var components = URLComponents(string: url), let name = databaseName(of: url) else { return url }
        if !name.hasSuffix(testSuffix) { components.path = "/\(name)\(testSuffix)" }
        return components.string ?? url
    }

    public static let testSuffix = "_test"

    // MARK: Names

    /// The repository's root, found from this source file's location.
    public static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()  // TestSupport
            .deletingLastPathComponent()  // Tests
            .deletingLastPathComponent()
    }

    /// A name no other test run uses, for throwaway queues and tables.
    public static func uniqueName(_ prefix: String) -> String {
        "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// `name=url,name=url`, read the way the daemons read VENDOR_DATABASE_URLS.
    private static func parseNamedURLs(_ raw: String) -> [(vendor: String, url: String)] {
        do {
            return try EnvironmentConfiguration(["VENDOR_DATABASE_URLS": raw]).vendorDatabaseURLs()
                .map { ($0.name, $0.url) }
        } catch {
            preconditionFailure("\(error)")
        }
    }

    private static func env(_ variable: EnvironmentVariable) -> String? {
        EnvironmentConfiguration().optionalString(variable)
    }
}
