import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import OrderAPI
import TestSupport
import Testing
import Yams

@Suite struct OpenAPITests {
    static func documentedRoutes() throws -> Set<String> {
        let document = try #require(try Yams.load(yaml: OrderAPIRoutes.openAPIDocument) as? [String: Any])
        #expect(document["openapi"] as? String == "3.1.0")
        let paths = try #require(document["paths"] as? [String: Any])
        var routes = Set<String>()
        for (path, item) in paths {
            for method in (item as? [String: Any] ?? [:]).keys where ["get", "post", "put", "patch", "delete"].contains(method) {
                routes.insert("\(method.uppercased()) \(path)")
            }
        }
        return routes
    }

    static func paths() throws -> [String: [String: Any]] {
        let document = try #require(try Yams.load(yaml: OrderAPIRoutes.openAPIDocument) as? [String: Any])
        return try #require(document["paths"] as? [String: [String: Any]])
    }

    /// What the router adds to the routes (HEAD wherever GET, OPTIONS
    /// everywhere) is documented, and the answers clients must handle on
    /// POST: 415 for a body that is not JSON in UTF-8, 422 for a reused key.
    @Test func headOptionsAndTheIntakeAnswersAreDocumented() throws {
        for (path, item) in try Self.paths() {
            #expect(item["options"] != nil, "OPTIONS \(path)")
            #expect((item["head"] != nil) == (item["get"] != nil), "HEAD \(path)")
        }
        for path in ["/order", "/orders"] {
            let post = try #require(try Self.paths()[path]?["post"] as? [String: Any])
            let responses = try #require(post["responses"] as? [String: Any])
            #expect(Set(responses.keys).isSuperset(of: ["202", "400", "413", "415", "422", "503"]), "\(path)")
        }
        let document = try #require(try Yams.load(yaml: OrderAPIRoutes.openAPIDocument) as? [String: Any])
        let responses = try #require((document["components"] as? [String: Any])?["responses"] as? [String: Any])
        let notAllowed = try #require(responses["MethodNotAllowed"] as? [String: Any])
        #expect((notAllowed["headers"] as? [String: Any])?["Allow"] != nil)
        let options = try #require(responses["Options"] as? [String: Any])
        #expect((options["headers"] as? [String: Any])?["Allow"] != nil)
    }

    @Test func everyRouteIsDocumentedAndEveryDocumentedRouteExists() throws {
        let served = Set(OrderAPIRoutes.all.map { "\($0.method) \($0.path)" })
        #expect(try Self.documentedRoutes() == served)
    }

    /// Each documented route answers from the real router (not the catch-all 404).
    @Test func everyDocumentedRouteAnswers() async throws {
        try await OrderSystemFixture.with { system in
            var logger = Logger(label: "openapi-test")
            logger.logLevel = .error
            var configuration = try system.apiConfiguration()
            // Webhooks answer (400 for the unsigned body) only when configured.
            configuration.stripeWebhookSecret = "whsec_openapi_test"
            configuration.shopifyWebhookSecret = "shopify_openapi_test"
            configuration.wmsCallbackToken = "wms-openapi-test"
            let app = try buildOrderAPI(configuration: configuration, logger: logger)
            try await app.test(.router) { client in
                for route in try Self.documentedRoutes().sorted() {
                    let parts = route.split(separator: " ", maxSplits: 1)
                    let path = String(parts[1]).replacingOccurrences(of: "{id}", with: UUID().uuidString)
                    let method = HTTPRequest.Method(rawValue: String(parts[0]))!
                    let response = try await client.call(method, path, headers: [.contentType: "application/json"], body: method == .post ? Array("{}".utf8) : nil)
                    #expect(response.json["code"] as? String != "not-found", "\(route) is documented but not served")
                    #expect(response.status < 500, "\(route) answered \(response.status)")
                }
                // HEAD answers as GET does, OPTIONS lists the path's methods.
                for (path, item) in try Self.paths() {
                    let concrete = path.replacingOccurrences(of: "{id}", with: UUID().uuidString)
                    let options = try await client.call(.options, concrete)
                    #expect(options.status == 204, "OPTIONS \(path)")
                    let allowed = Set((options.headers[.allow] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() })
                    let documented = Set(item.keys).intersection(["get", "head", "post", "put", "patch", "delete", "options"])
                    #expect(allowed == documented, "\(path): Allow \(allowed), documented \(documented)")
                    if item["head"] != nil {
                        let get = try await client.call(.get, concrete)
                        let head = try await client.call(.head, concrete)
                        #expect(head.status == get.status, "HEAD \(path)")
                        #expect(head.body.isEmpty, "HEAD \(path)")
                    }
                }
                let document = try await client.call(.get, "/openapi.yaml")
                #expect(document.text.contains("openapi: 3.1.0"))
            }
        }
    }
}
