import AsyncHTTPClient
import Foundation
import NIOCore

/// The broker's management API (`RABBITMQ_MANAGEMENT_URL`,
/// `http://user:password@host:port`): GETs of its JSON resources with the
/// credentials of the URL.
struct ManagementAPI: Sendable {
    let url: String
    let timeout: Duration

    enum Answer {
        case json(Any)
        /// 404: the exchange, queue or binding asked for does not exist.
        case notFound
    }

    /// GET `/api/<path>` (`path` already percent-encoded).
    func get(_ path: String) async throws -> Answer {
        guard let base = URLComponents(string: url), let host = base.host else {
            throw AdminError("RABBITMQ_MANAGEMENT_URL must look like http://user:password@host:port")
        }
        let credentials = Data("\(base.user ?? ""):\(base.password ?? "")".utf8).base64EncodedString()
        var request = HTTPClientRequest(url: "\(base.scheme ?? "http")://\(host):\(base.port ?? 15672)/api/\(path)")
        request.headers.add(name: "Authorization", value: "Basic \(credentials)")
        let response = try await HTTPClient.shared.execute(request, timeout: TimeAmount(timeout))
        var body = try await response.body.collect(upTo: 16 << 20)
        let bytes = body.readBytes(length: body.readableBytes) ?? []
        switch response.status.code {
        case 200: return .json(try JSONSerialization.jsonObject(with: Data(bytes)))
        case 404: return .notFound
        default: throw AdminError("the management API answered \(response.status.code) for /api/\(path)")
        }
    }

    /// A name as one path segment of the API (`/` and the rest escaped).
    static func escaped(_ name: String) -> String {
        name.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_."))) ?? name
    }
}
