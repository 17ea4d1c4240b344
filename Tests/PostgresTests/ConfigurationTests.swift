import Postgres
import Testing

@Suite("PostgresConfiguration URL parsing")
struct ConfigurationTests {
    @Test func parsesEveryPart() throws {
        let configuration = try PostgresConfiguration(
            url: "postgres://orders:s3cret@db.example.com:6543/ordersdb?sslmode=disable&application_name=order-api&connect_timeout=5")
        #expect(configuration.endpoints == [.init(host: "db.example.com", port: 6543)])
        #expect(configuration.user == "orders")
        #expect(configuration.password == "s3cret")
        #expect(configuration.database == "ordersdb")
        #expect(configuration.applicationName == "order-api")
        #expect(configuration.connectTimeout == 5)
        #expect(configuration.options == ["sslmode": "disable"])
    }

    @Test func percentDecodesUserPasswordAndDatabase() throws {
        let configuration = try PostgresConfiguration(
            url: "postgresql://app%2Buser:p%40ss%3Aw%2Fo%25rd%20x@127.0.0.1/my%20db?application_name=a%26b")
        #expect(configuration.user == "app+user")
        #expect(configuration.password == "p@ss:w/o%rd x")
        #expect(configuration.database == "my db")
        #expect(configuration.applicationName == "a&b")
    }

    @Test func unencodedAtSignInPasswordUsesTheLastAt() throws {
        let configuration = try PostgresConfiguration(url: "postgres://u:a@b@host/db")
        #expect(configuration.user == "u")
        #expect(configuration.password == "a@b")
        #expect(configuration.endpoints.map(\.host) == ["host"])
    }

    @Test func defaults() throws {
        let configuration = try PostgresConfiguration(url: "postgres://orders@localhost/ordersdb")
        #expect(configuration.endpoints.map(\.port) == [5432])
        #expect(configuration.password == nil)
        #expect(configuration.applicationName == nil)
        #expect(configuration.connectTimeout == PostgresConfiguration.defaultConnectTimeout)
        #expect(configuration.options.isEmpty)
    }

    @Test func bracketedIPv6Host() throws {
        let configuration = try PostgresConfiguration(url: "postgres://u:p@[::1]:5433/db")
        #expect(configuration.endpoints == [.init(host: "::1", port: 5433)])
        #expect(configuration.redactedURL.hasPrefix("postgres://u:***@[::1]:5433/db"))
    }

    static let secret = "Hunter2-Very-Secret"

    @Test(arguments: [
        ("mysql://u:\(secret)@h/db", "scheme"),
        ("u:\(secret)@h/db", "expected postgres://"),
        ("postgres://:\(secret)@h/db", "missing user name"),
        ("postgres://h/db", "missing user name"),
        ("postgres://u:\(secret)@/db", "missing host"),
        ("postgres://u:\(secret)@h", "missing database name"),
        ("postgres://u:\(secret)@h/", "missing database name"),
        ("postgres://u:\(secret)@h:99999/db", "port"),
        ("postgres://u:\(secret)@h:abc/db", "port"),
        ("postgres://u:\(secret)%zz@h/db", "percent-encoding in the password"),
        ("postgres://u:\(secret)@h/db?connect_timeout=soon", "connect_timeout"),
        ("postgres://u@h/db?password=\(secret)", "password is not supported"),
        ("postgres://u:\(secret)@[::1/db", "IPv6"),
    ])
    func rejectsBadURLsWithoutEchoingThePassword(url: String, expected: String) {
        let error = #expect(throws: PostgresError.self) { try PostgresConfiguration(url: url) }
        #expect(error?.kind == .invalidConfiguration)
        #expect(error?.description.contains(expected) == true, "\(error?.description ?? "")")
        #expect(error?.description.contains(Self.secret) == false)
        #expect(error?.message.contains(Self.secret) == false)
    }

    @Test func redactedURLHidesThePassword() throws {
        let configuration = try PostgresConfiguration(
            url: "postgres://orders:\(Self.secret)@127.0.0.1:5432/ordersdb?sslmode=disable&application_name=x")
        let redacted = configuration.redactedURL
        #expect(!redacted.contains(Self.secret))
        #expect(redacted == "postgres://orders:***@127.0.0.1:5432/ordersdb?application_name=x&connect_timeout=10&sslmode=disable")
        #expect(!"\(configuration.redactedURL)".contains(Self.secret))
    }

    @Test func redactedURLParsesBackToTheSameSettings() throws {
        let original = try PostgresConfiguration(url: "postgres://a%20b:pw@h:1/d%2Fb?application_name=x%20y&sslmode=require")
        var reparsed = try PostgresConfiguration(url: original.redactedURL)
        #expect(reparsed.password == "***")
        reparsed.password = original.password
        #expect(reparsed == original)
    }
}
