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

    private func restock(
        _ client: some TestClientProtocol, authorization: String?, contentType: String? = "application/json", body: String = #"{"quantity":1}"#
    ) async throws -> HTTPResult {
        var headers: HTTPFields = [:]
        if let contentType { headers[.contentType] = contentType }
        if let authorization { headers[.authorization] = authorization }
        return try await client.call(.post, "/vendors/down/stock/p1/restock", headers: headers, body: Array(body.utf8))
    }

    @Test func writesNeedTheBearerToken() async throws {
        try await app(token: Self.token).application.test(.router) { client in
            let missing = try await restock(client, authorization: nil)
            #expect(missing.status == 401)
            #expect(missing.json["code"] as? String == "unauthorized")
            #expect(missing.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true, "RFC 9110, 11.6.1: a 401 names its scheme")
            for wrong in ["Bearer wrong", "Bearer \(Self.token)x", "Bearer \(Self.token.dropLast())", "Basic \(Self.token)", "Bearer", "Bearer ", "Bearer\(Self.token)"] {
                let refused = try await restock(client, authorization: wrong)
                #expect(refused.status == 403, "\(wrong)")
                #expect(refused.json["code"] as? String == "forbidden", "\(wrong)")
            }
            // The right token gets past the check, to the database that is down;
            // the scheme is case-insensitive (RFC 9110, 11.1).
            for right in ["Bearer \(Self.token)", "bearer \(Self.token)", "BEARER  \(Self.token)"] {
                let allowed = try await restock(client, authorization: right)
                #expect(allowed.status == 503, "\(right): \(allowed.text)")
            }
            let sync = try await client.call(.post, "/sync", headers: [.authorization: "Bearer wrong"])
            #expect(sync.status == 403)
            let anonymousSync = try await client.call(.post, "/sync")
            #expect(anonymousSync.status == 401)
            #expect(anonymousSync.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
        }
    }

    /// A write's body is JSON in UTF-8 (415 otherwise), with each field once (400 naming it).
    @Test func writesTakeJSONOnly() async throws {
        try await app(token: Self.token).application.test(.router) { client in
            let bearer = "Bearer \(Self.token)"
            for contentType in [nil, "text/plain", "application/json; charset=iso-8859-1"] as [String?] {
                let response = try await restock(client, authorization: bearer, contentType: contentType)
                #expect(response.status == 415, "\(contentType ?? "none")")
                #expect(response.json["code"] as? String == "unsupported-media-type", "\(contentType ?? "none")")
            }
            let twice = try await restock(client, authorization: bearer, body: #"{"quantity":1,"quantity":500}"#)
            #expect(twice.status == 400, "\(twice.text)")
            let fields = (twice.json["errors"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String }
            #expect(fields == ["quantity"])
            let utf8 = try await restock(client, authorization: bearer, contentType: "application/json; charset=UTF-8")
            #expect(utf8.status == 503, "accepted, then the database is down")
        }
    }

    /// The same method semantics as order-api, from the one router.
    @Test func methodsFollowHTTPSemantics() async throws {
        try await app(token: Self.token).application.test(.router) { client in
            let vendors = try await client.call(.head, "/vendors")
            #expect(vendors.status == 200)
            #expect(vendors.body.isEmpty)
            let down = try await client.call(.head, "/vendors/down/stock")
            #expect(down.status == 503)
            #expect(down.body.isEmpty)
            for (path, allow) in [
                ("/vendors/down/stock/p1", "GET, HEAD, PUT, OPTIONS"), ("/vendors/down/stock/p1/restock", "POST, OPTIONS"),
                ("/sync", "POST, OPTIONS"), ("/health/live", "GET, HEAD, OPTIONS"),
            ] {
                let options = try await client.call(.options, path)
                #expect(options.status == 204, "\(path)")
                #expect(options.headers[.allow] == allow, "\(path)")
                let delete = try await client.call(.delete, path)
                #expect(delete.status == 405, "\(path)")
                #expect(delete.headers[.allow] == allow, "\(path)")
                #expect(delete.json["code"] as? String == "method-not-allowed", "\(path)")
            }
            #expect(try await client.call(.get, "/sync").status == 405)
            #expect(try await client.call(.options, "/vendors/down/nothing").status == 404)
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
        let failing = Daemon.serviceGroup(try app(token: nil).oneShotServices, logger: logger)
        let error = await #expect(throws: (any Error).self) { try await failing.run() }
        #expect(error.map { "\($0)" } == "stock sync failed for down")

        let healthy = TestEnvironment.vendorDatabaseURLs.map { "\($0.vendor)=\($0.url)" }.joined(separator: ",")
        let succeeding = Daemon.serviceGroup(try app(token: nil, vendors: healthy).oneShotServices, logger: logger)
        try await succeeding.run()
    }
}
