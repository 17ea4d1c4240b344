import Foundation
import Hummingbird
import NIOCore
import OrderCore

/// An RFC 9457 problem document (`application/problem+json`) with a stable `code`.
public struct Problem: Error, Sendable, Encodable {
    public let status: Int
    public let code: String
    public let title: String
    public let detail: String?
    /// For 400s: every invalid field.
    public let errors: [FieldError]?
    var retryAfterSeconds: Int?

    public init(status: HTTPResponse.Status, code: String, title: String, detail: String? = nil, errors: [FieldError]? = nil, retryAfterSeconds: Int? = nil) {
        self.status = status.code
        self.code = code
        self.title = title
        self.detail = detail
        self.errors = errors
        self.retryAfterSeconds = retryAfterSeconds
    }

    enum CodingKeys: String, CodingKey { case type, title, status, detail, code, errors }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode("/problems/\(code)", forKey: .type)
        try container.encode(title, forKey: .title)
        try container.encode(status, forKey: .status)
        try container.encodeIfPresent(detail, forKey: .detail)
        try container.encode(code, forKey: .code)
        try container.encodeIfPresent(errors, forKey: .errors)
    }

    public func response() -> Response {
        var headers: HTTPFields = [.contentType: "application/problem+json"]
        if let retryAfterSeconds { headers[.retryAfter] = "\(retryAfterSeconds)" }
        let body = (try? MessageCoding.encoder.encode(self)) ?? Data()
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    public static func invalidBody(_ failure: ValidationFailure) -> Problem {
        Problem(status: .badRequest, code: "invalid-request", title: "The request is invalid", detail: failure.description, errors: failure.errors)
    }
}

/// Turns every error into a problem document, so no client ever sees an empty
/// or HTML error, and no internal detail (SQL, stack) leaks in a 500.
public struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let problem as Problem {
            return problem.response()
        } catch is NIOTooManyBytesError {
            return Problem(status: .contentTooLarge, code: "body-too-large", title: "The request body is too large").response()
        } catch let error as HTTPError {
            switch error.status {
            case .notFound:
                return Problem(status: .notFound, code: "not-found", title: "No such route", detail: "\(request.method) \(request.uri.path)").response()
            case .methodNotAllowed:
                return Problem(status: .methodNotAllowed, code: "method-not-allowed", title: "Method not allowed").response()
            default:
                return Problem(status: error.status, code: "http-\(error.status.code)", title: error.status.reasonPhrase, detail: error.body).response()
            }
        } catch {
            context.logger.error("unhandled error", metadata: ["error": "\(error)"])
            return Problem(status: .internalServerError, code: "internal-error", title: "Internal error").response()
        }
    }
}

/// JSON bodies with the project's encoder (ISO 8601 dates, sorted keys).
public enum JSONResponse {
    public static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try MessageCoding.encoder.encode(value)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
