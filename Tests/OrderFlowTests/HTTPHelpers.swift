import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// What a test reads from one HTTP exchange.
struct HTTPResult: Sendable {
    let status: Int
    let contentType: String?
    let headers: HTTPFields
    let body: [UInt8]

    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
    }

    var text: String { String(decoding: body, as: UTF8.self) }
}

extension TestClientProtocol {
    func call(_ method: HTTPRequest.Method, _ uri: String, headers: HTTPFields = [:], body: [UInt8]? = nil) async throws -> HTTPResult {
        try await execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(bytes: $0) }) { response in
            HTTPResult(
                status: response.status.code, contentType: response.headers[.contentType], headers: response.headers,
                body: Array(response.body.readableBytesView))
        }
    }

    func postOrder(_ json: String, key: String? = nil, headers: HTTPFields = [:]) async throws -> HTTPResult {
        var headers = headers
        headers[.contentType] = "application/json"
        if let key { headers[HTTPField.Name("Idempotency-Key")!] = key }
        return try await call(.post, "/order", headers: headers, body: Array(json.utf8))
    }

    /// `POST /order` as a shop's client sends it: a 503 (the broker's confirm came
    /// later than PUBLISH_TIMEOUT_MS, as it can while the whole suite loads the shared
    /// broker; nothing was accepted) is sent again after its Retry-After, up to three
    /// times, under one Idempotency-Key (a random one when none is given), so a first
    /// attempt the broker did take, confirmed too late, is the same order and not a
    /// second. For tests about what happens after the 202, not about the intake.
    func postOrderUntilAnswered(_ json: String, key: String? = nil, headers: HTTPFields = [:]) async throws -> HTTPResult {
        let key = key ?? "test-\(UUID().uuidString.lowercased())"
        var response = try await postOrder(json, key: key, headers: headers)
        for _ in 0..<3 where response.status == 503 {
            try await Task.sleep(for: .milliseconds(500))
            response = try await postOrder(json, key: key, headers: headers)
        }
        return response
    }
}
