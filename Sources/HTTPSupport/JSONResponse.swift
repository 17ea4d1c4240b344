import Foundation
import Hummingbird
import NIOCore
import OrderCore

/// JSON bodies with the project's encoder (ISO 8601 dates, sorted keys).
public enum JSONResponse {
    public static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try MessageCoding.encoder.encode(value)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
