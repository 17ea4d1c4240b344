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

    func postOrder(_ json: String, key: String? = nil) async throws -> HTTPResult {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let key { headers[HTTPField.Name("Idempotency-Key")!] = key }
        return try await call(.post, "/order", headers: headers, body: Array(json.utf8))
    }
}
