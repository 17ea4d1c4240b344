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

    @Test func everyRouteIsDocumentedAndEveryDocumentedRouteExists() throws {
        let served = Set(OrderAPIRoutes.all.map { "\($0.method) \($0.path)" })
        #expect(try Self.documentedRoutes() == served)
    }

    /// Each documented route answers from the real router (not the catch-all 404).
    @Test func everyDocumentedRouteAnswers() async throws {
        try await OrderSystemFixture.with { system in
            var logger = Logger(label: "openapi-test")
            logger.logLevel = .error
            let app = try buildOrderAPI(configuration: system.apiConfiguration(), logger: logger)
            try await app.test(.router) { client in
                for route in try Self.documentedRoutes().sorted() {
                    let parts = route.split(separator: " ", maxSplits: 1)
                    let path = String(parts[1]).replacingOccurrences(of: "{id}", with: UUID().uuidString)
                    let method = HTTPRequest.Method(rawValue: String(parts[0]))!
                    let response = try await client.call(method, path, headers: [.contentType: "application/json"], body: method == .post ? Array("{}".utf8) : nil)
                    #expect(response.json["code"] as? String != "not-found", "\(route) is documented but not served")
                    #expect(response.status < 500, "\(route) answered \(response.status)")
                }
                let document = try await client.call(.get, "/openapi.yaml")
                #expect(document.text.contains("openapi: 3.1.0"))
            }
        }
    }
}
