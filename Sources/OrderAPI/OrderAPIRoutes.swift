import Foundation

/// The routes order-api serves; the OpenAPI document must list exactly these.
public enum OrderAPIRoutes {
    public static let all: [(method: String, path: String)] = [
        ("POST", "/order"), ("POST", "/orders"), ("GET", "/orders/{id}"), ("GET", "/orders/{id}/events"),
        ("POST", "/orders/{id}/cancel"), ("POST", "/orders/{id}/returns"),
        ("POST", "/inventory/check-availability"), ("POST", "/inventory/reservations"),
        ("GET", "/inventory/reservations/{id}"), ("DELETE", "/inventory/reservations/{id}"),
        ("GET", "/products"), ("GET", "/products/{id}"), ("POST", "/webhooks/stripe"),
        ("POST", "/webhooks/shopify/orders"), ("POST", "/webhooks/wms/shipments"),
        ("GET", "/health/live"), ("GET", "/health/ready"), ("GET", "/openapi.yaml"), ("GET", "/metrics"),
    ]

    /// The OpenAPI 3.1 document describing them (Sources/OrderAPI/openapi.yaml).
    public static var openAPIDocument: String {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else { return "" }
        return text
    }
}
