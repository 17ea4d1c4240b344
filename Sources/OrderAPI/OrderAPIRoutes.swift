import Foundation

/// The routes order-api serves; the OpenAPI document must list exactly these.
public enum OrderAPIRoutes {
    public static let all: [(method: String, path: String)] = [
        ("POST", "/order"), ("POST", "/orders"), ("GET", "/orders/{id}"),
        ("GET", "/products"), ("GET", "/products/{id}"),
        ("GET", "/health/live"), ("GET", "/health/ready"), ("GET", "/openapi.yaml"),
    ]

    /// The OpenAPI 3.1 document describing them (Sources/OrderAPI/openapi.yaml).
    public static var openAPIDocument: String {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else { return "" }
        return text
    }
}
