import Foundation

/// Where the integration tests find the live broker and databases that
/// `scripts/services start` runs. The defaults match that script; the
/// variables are the same ones the daemons read.
public enum TestEnvironment {
    public static var amqpURL: String {
        env("AMQP_URL") ?? "amqp://guest:guest@127.0.0.1:5672/%2F"
    }

    public static var managementURL: String {
        env("RABBITMQ_MANAGEMENT_URL") ?? "http://guest:guest@127.0.0.1:15672"
    }

    public static var databaseURL: String {
        env("DATABASE_URL") ?? "postgres://orders:orders@127.0.0.1:5432/ordersdb"
    }

    /// The vendor databases, in the `VENDOR_DATABASE_URLS` form `name=url,name=url`.
    public static var vendorDatabaseURLs: [(vendor: String, url: String)] {
        let raw = env("VENDOR_DATABASE_URLS")
            ?? "vendorA=postgres://orders:orders@127.0.0.1:5432/vendoradb,vendorB=postgres://orders:orders@127.0.0.1:5432/vendorbdb"
        return raw.split(separator: ",").compactMap { pair in
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { return nil }
            return (String(parts[0]), String(parts[1]))
        }
    }

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

    private static func env(_ name: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
        return value
    }
}
