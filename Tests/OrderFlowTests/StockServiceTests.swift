import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import ServiceSupport
import StockSync
import TestSupport
import Testing

/// The Stock Service's answers that need no vendor data: who may write, and
/// what a client sees when a vendor database cannot be reached. Its vendor is
/// a database nobody listens for, so no test writes a row.
@Suite(.timeLimit(.minutes(1))) struct StockServiceTests {
    static let secret = "Vendor-Db-Secret-7f3a"
    static let token = "stock-token-\(UUID().uuidString)"

    // Port 1 refuses connections at once.
    static let downVendor = "down=postgres://orders:\(secret)@127.0.0.1:1/vendordb?connect_timeout=2"

    private func app(token: String?, vendors: String = downVendor) throws -> StockSyncApp {
        var environment = [
            "DATABASE_URL": TestEnvironment.databaseURL,
            "VENDOR_DATABASE_URLS": vendors,
            "STOCK_SYNC_HTTP_PORT": "0",
        ]
        if let token { environment["STOCK_API_TOKEN"] = token }
        var logger = Logger(label: "test-stock-service")
        logger.logLevel = .critical
        return try StockSyncApp(configuration: StockSyncConfiguration(environment: EnvironmentConfiguration(environment)), logger: logger, periodic: false)
    }

    private func restock(_ client: some TestClientProtocol, authorization: String?) async throws -> HTTPResult {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let authorization { headers[.authorization] = authorization }
        return try await client.call(.post, "/vendors/down/stock/p1/restock", headers: headers, body: Array(#"{"quantity":1}"#.utf8))
    }

    @Test func writesNeedTheBearerToken() async throws {
        try await app(token: Self.token).application.test(.router) { client in
            let missing = try await restock(client, authorization: nil)
            #expect(missing.status == 401)
            #expect(missing.json["code"] as? String == "unauthorized")
            for wrong in ["Bearer wrong", "Bearer \(Self.token)x", "Bearer \(Self.token.dropLast())", "bearer \(Self.token)", "Basic \(Self.token)"] {
                let refused = try await restock(client, authorization: wrong)
                #expect(refused.status == 403, "\(wrong)")
                #expect(refused.json["code"] as? String == "forbidden", "\(wrong)")
            }
            // The right token gets past the check, to the database that is down.
            let allowed = try await restock(client, authorization: "Bearer \(Self.token)")
            #expect(allowed.status == 503, "\(allowed.text)")
            let sync = try await client.call(.post, "/sync", headers: [.authorization: "Bearer wrong"])
            #expect(sync.status == 403)
        }
    }

    @Test func withoutATokenWritesAreDisabled() async throws {
        try await app(token: nil).application.test(.router) { client in
            let response = try await restock(client, authorization: "Bearer anything")
            #expect(response.status == 403)
            #expect(response.json["code"] as? String == "writes-disabled")
        }
    }

    /// The one error mapping: 503 with Retry-After, and nothing of the
    /// database error (URL, password, libpq's message) in the body.
    @Test func anUnreachableVendorDatabaseIsA503ThatLeaksNothing() async throws {
        try await app(token: Self.token).application.test(.router) { client in
            for response in [
                try await client.call(.get, "/vendors/down/stock"),
                try await client.call(.get, "/vendors/down/stock/p1"),
                try await restock(client, authorization: "Bearer \(Self.token)"),
            ] {
                #expect(response.status == 503)
                #expect(response.contentType == "application/problem+json")
                #expect(response.json["code"] as? String == "database-unavailable")
                #expect(response.headers[.retryAfter] != nil)
                for leak in [Self.secret, "127.0.0.1", "vendordb", "PostgreSQL", "connection"] {
                    #expect(!response.text.contains(leak), "\(leak) in \(response.text)")
                }
            }
        }
    }

    /// `stock-sync --once`: the one sync's end ends the ServiceGroup, and a
    /// vendor that fails fails it (the process then exits 1).
    @Test func oneShotModeEndsItsGroupAndFailsWhenAVendorFails() async throws {
        var logger = Logger(label: "test-stock-sync-once")
        logger.logLevel = .critical
        let failing = Daemon.serviceGroup(try app(token: nil).oneShotServices, logger: logger, gracefulShutdownSignals: [])
        let error = await #expect(throws: (any Error).self) { try await failing.run() }
        #expect(error.map { "\($0)" } == "stock sync failed for down")

        let healthy = TestEnvironment.vendorDatabaseURLs.map { "\($0.vendor)=\($0.url)" }.joined(separator: ",")
        let succeeding = Daemon.serviceGroup(try app(token: nil, vendors: healthy).oneShotServices, logger: logger, gracefulShutdownSignals: [])
        try await succeeding.run()
    }
}
