import Foundation
import HTTPTypes
import HummingbirdTesting

/// The lifecycle routes of order-api (POST /order with a checkout hold, cancel,
/// returns, checkout holds, an order's events) as the end-to-end tests call
/// them. Each route is one method here, so a change of the HTTP contract is
/// one edit, not one per test.
struct LifecycleClient: Sendable {
    let client: any TestClientProtocol
    /// The shop's own backend token (`API_TOKEN`): lifecycle commands need it.
    let token: String

    struct Item: Sendable, Hashable {
        let productId: String
        let quantity: Int
    }

    /// What a checkout hold request got: its id, or the refusal (409 insufficient-stock).
    enum HoldResult: Sendable, Hashable {
        case held(UUID)
        case refused(status: Int, code: String?)
    }

    private var authorized: HTTPFields {
        [.contentType: "application/json", .authorization: "Bearer \(token)"]
    }

    /// `POST /order`, optionally consuming a checkout hold or paying with a
    /// Stripe PaymentMethod id; the id of the accepted
    /// order (the test fails at once when it was not accepted: every later check counts on it).
    func placeOrder(_ items: [Item], reservationId: UUID? = nil, paymentMethod: String? = nil) async throws -> UUID {
        var body = #"{"items":"# + Self.json(items)
        if let reservationId { body += #","reservationId":""# + reservationId.uuidString.lowercased() + #"""# }
        if let paymentMethod { body += #","payment":{"method":""# + paymentMethod + #""}"# }
        body += "}"
        let response = try await client.postOrderUntilAnswered(body)
        guard response.status == 202, let id = (response.json["orderId"] as? String).flatMap(UUID.init(uuidString:)) else {
            throw UnexpectedResponse(route: "POST /order", response: response)
        }
        return id
    }

    /// `GET /orders/{id}`: the status it shows, or nil when it answers anything but 200.
    func status(of order: UUID) async throws -> String? {
        let response = try await client.call(.get, "/orders/\(order.uuidString.lowercased())")
        return response.status == 200 ? response.json["status"] as? String : nil
    }

    /// `POST /orders/{id}/cancel` with the token.
    func cancel(_ order: UUID, reason: String? = nil) async throws -> HTTPResult {
        let body = reason.map { #"{"reason":""# + $0 + #""}"# } ?? "{}"
        return try await client.call(.post, "/orders/\(order.uuidString.lowercased())/cancel", headers: authorized, body: Array(body.utf8))
    }

    /// `POST /orders/{id}/returns` with the token.
    func returnItems(_ order: UUID, _ items: [Item]) async throws -> HTTPResult {
        let body = #"{"items":"# + Self.json(items) + "}"
        return try await client.call(.post, "/orders/\(order.uuidString.lowercased())/returns", headers: authorized, body: Array(body.utf8))
    }

    /// `POST /inventory/reservations` with the token.
    func hold(_ items: [Item], expiresIn seconds: Int) async throws -> HoldResult {
        let body = #"{"items":"# + Self.json(items) + #","expiresIn":\#(seconds)}"#
        let response = try await client.call(.post, "/inventory/reservations", headers: authorized, body: Array(body.utf8))
        if response.status == 201, let id = (response.json["reservationId"] as? String).flatMap(UUID.init(uuidString:)) {
            return .held(id)
        }
        return .refused(status: response.status, code: response.json["code"] as? String)
    }

    /// `DELETE /inventory/reservations/{id}` with the token; the status code.
    func release(_ reservation: UUID) async throws -> Int {
        try await client.call(.delete, "/inventory/reservations/\(reservation.uuidString.lowercased())", headers: authorized).status
    }

    /// `GET /orders/{id}/events`: the history's (sequence, eventId, from, to) in the order the API lists them.
    func events(of order: UUID) async throws -> [(sequence: Int, eventId: UUID, from: String, to: String)] {
        let response = try await client.call(.get, "/orders/\(order.uuidString.lowercased())/events")
        guard response.status == 200, let events = response.json["events"] as? [[String: Any]] else {
            throw UnexpectedResponse(route: "GET /orders/{id}/events", response: response)
        }
        return try events.map { event in
            guard let sequence = event["sequence"] as? Int, let eventId = (event["eventId"] as? String).flatMap(UUID.init(uuidString:)),
                let from = event["from"] as? String, let to = event["to"] as? String
            else { throw UnexpectedResponse(route: "GET /orders/{id}/events", response: response) }
            return (sequence, eventId, from, to)
        }
    }

    private static func json(_ items: [Item]) -> String {
        "[" + items.map { #"{"productId":"\#($0.productId)","quantity":\#($0.quantity)}"# }.joined(separator: ",") + "]"
    }
}

struct UnexpectedResponse: Error, CustomStringConvertible {
    let route: String
    let response: HTTPResult
    var description: String { "\(route) answered \(response.status): \(response.text.prefix(300))" }
}

extension HTTPResult {
    /// 2xx: the command went through.
    var succeeded: Bool { (200..<300).contains(status) }
    /// The problem+json `code`.
    var problemCode: String? { json["code"] as? String }
}
