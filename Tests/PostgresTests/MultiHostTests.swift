import Logging
@testable import Postgres
import TestSupport
import Testing

/// libpq multi-host URLs, as a Patroni cluster's clients use them.
@Suite struct MultiHostConfigurationTests {
    static let secret = "Patroni-Pass-41d7"

    @Test func parsesEveryHostAndHandsLibpqTheLists() throws {
        let configuration = try PostgresConfiguration(
            url: "postgres://orders:\(Self.secret)@h1:5441,h2,[::1]:5443/ordersdb?target_session_attrs=read-write&connect_timeout=3")
        #expect(configuration.endpoints == [.init(host: "h1", port: 5441), .init(host: "h2", port: 5432), .init(host: "::1", port: 5443)])
        #expect(configuration.user == "orders" && configuration.password == Self.secret && configuration.database == "ordersdb")
        #expect(configuration.connectTimeout == 3)
        #expect(configuration.options == ["target_session_attrs": "read-write"])
        let parameters = Dictionary(configuration.libpqParameters, uniquingKeysWith: { $1 })
        #expect(parameters["host"] == "h1,h2,::1")
        #expect(parameters["port"] == "5441,5432,5443")
        #expect(parameters["target_session_attrs"] == "read-write")
        #expect(configuration.redactedURL == "postgres://orders:***@h1:5441,h2:5432,[::1]:5443/ordersdb?connect_timeout=3&target_session_attrs=read-write")
    }

    @Test func theRedactedURLParsesBackToTheSameHosts() throws {
        let original = try PostgresConfiguration(url: "postgres://o:p%40ss@h1:5441,h2:5442/db?target_session_attrs=prefer-standby")
        var reparsed = try PostgresConfiguration(url: original.redactedURL)
        reparsed.password = original.password
        #expect(reparsed == original)
    }

    @Test(arguments: PostgresConfiguration.targetSessionAttributes.sorted())
    func acceptsEveryTargetSessionAttributeOfLibpq(value: String) throws {
        let configuration = try PostgresConfiguration(url: "postgres://o@h1,h2/db?target_session_attrs=\(value)")
        #expect(configuration.options["target_session_attrs"] == value)
    }

    @Test(arguments: [
        ("postgres://u:\(secret)@h1:5441,,h3/db", "empty host in the host list"),
        ("postgres://u:\(secret)@h1:5441,/db", "empty host in the host list"),
        ("postgres://u:\(secret)@h1:5441,h2:99999/db", "must be a number from 1 to 65535"),
        ("postgres://u:\(secret)@h1:5441,h2:abc/db", "host or port in the host list is malformed"),
        ("postgres://u:\(secret)@h1,[::1/db", "unterminated IPv6 address in the host list"),
        ("postgres://u:\(secret)@h1,h2", "missing database name"),
        ("postgres://u:\(secret)@h1,h2/db?target_session_attrs=primary-please", "target_session_attrs must be one of any, "),
    ])
    func refusesABadHostListWithoutEchoingThePassword(url: String, expected: String) {
        let error = #expect(throws: PostgresError.self) { try PostgresConfiguration(url: url) }
        #expect(error?.kind == .invalidConfiguration)
        #expect(error?.description.contains(expected) == true, "\(error?.description ?? "")")
        #expect(error?.description.contains(Self.secret) == false)
    }
}

/// Two proxies in front of the one local PostgreSQL stand for a primary and the host that takes over.
@Suite(.timeLimit(.minutes(1))) struct PoolFailoverTests {
    @Test func aPoolWhosePrimaryDiedLandsOnTheNextHostAtItsNextUse() async throws {
        let direct = try TestEnvironment.postgresConfiguration()
        let first = try await FaultProxy(targetHost: direct.endpoints[0].host, targetPort: direct.endpoints[0].port)
        let second = try await FaultProxy(targetHost: direct.endpoints[0].host, targetPort: direct.endpoints[0].port)
        var configuration = direct
        configuration.endpoints = [.init(host: "127.0.0.1", port: first.port), .init(host: "127.0.0.1", port: second.port)]
        configuration.options["target_session_attrs"] = "read-write"
        configuration.connectTimeout = 2
        var logger = Logger(label: "pool-failover-test")
        logger.logLevel = .critical
        let pool = PostgresPool(configuration: configuration, size: 1, logger: logger)

        let before = try await pool.withConnection { try $0.query("SELECT pg_backend_pid()").first?.decode(0, as: Int32.self) }
        #expect(first.acceptedConnections == 1 && second.acceptedConnections == 0, "libpq takes the first read-write host")
        await first.cut()
        // The reset reaches the pool's socket through the kernel's network
        // softirq, which under load (ksoftirqd busy) can run after cut()
        // returned: the pool can only discard a connection the kernel has
        // said is dead (a loaded CI run got 08006 from the next query).
        try await Task.sleep(for: .seconds(1))
        // The next use works: the dead idle connection is replaced, not handed out.
        let after = try await pool.withConnection { try $0.query("SELECT pg_backend_pid()").first?.decode(0, as: Int32.self) }
        #expect(after != nil && after != before)
        #expect(second.acceptedConnections == 1)

        await pool.shutdown()
        await first.shutdown()
        await second.shutdown()
    }
}
