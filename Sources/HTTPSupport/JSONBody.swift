import Hummingbird
import OrderCore

/// A request body that must be a JSON object: its media type, size, syntax
/// and shape checked, each failure a 4xx problem naming what is wrong.
public enum JSONBody {
    /// The body's members; `[:]` for an empty body when `emptyIsObject`
    /// (a command whose fields are all optional).
    public static func object(of request: Request, upTo maxBytes: Int, emptyIsObject: Bool = false) async throws -> [String: JSONValue] {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > maxBytes {
            throw Problem(status: .contentTooLarge, code: "body-too-large", title: "The request body is too large", detail: "at most \(maxBytes) bytes")
        }
        let body = try await request.body.collect(upTo: maxBytes)
        if body.readableBytes == 0, emptyIsObject { return [:] }
        try JSONMediaType.require(request)
        let value: JSONValue?
        do {
            value = try JSONValue.parse(body.readableBytesView)
        } catch {
            if let duplicate = error.duplicateField { throw Problem.invalidBody(ValidationFailure([duplicate])) }
            value = nil
        }
        guard case .object(let object)? = value else {
            throw Problem.invalidBody(ValidationFailure([FieldError(field: "body", message: "must be a JSON object")]))
        }
        return object
    }
}
