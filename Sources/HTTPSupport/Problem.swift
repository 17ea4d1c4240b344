import Foundation
import Hummingbird
import NIOCore
import OrderCore
import Postgres

/// An RFC 9457 problem document (`application/problem+json`) with a stable `code`.
///
/// Hummingbird renders a thrown `Problem` itself (`HTTPResponseError`), so a
/// handler throws one and never builds an error response by hand.
public struct Problem: HTTPResponseError, Sendable, Encodable {
    public let status: HTTPResponse.Status
    public let code: String
    public let title: String
    public let detail: String?
    /// For 400s: every invalid field.
    public let errors: [FieldError]?
    /// Fields the status calls for besides Content-Type: Retry-After on a
    /// 503, Allow on a 405, WWW-Authenticate on a 401.
    public let headers: HTTPFields

    public init(
        status: HTTPResponse.Status, code: String, title: String, detail: String? = nil, errors: [FieldError]? = nil,
        retryAfterSeconds: Int? = nil, headers: HTTPFields = [:]
    ) {
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.errors = errors
        var headers = headers
        if let retryAfterSeconds { headers[.retryAfter] = String(retryAfterSeconds) }
        self.headers = headers
    }

    enum CodingKeys: String, CodingKey { case type, title, status, detail, code, errors }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode("/problems/\(code)", forKey: .type)
        try container.encode(title, forKey: .title)
        try container.encode(status.code, forKey: .status)
        try container.encodeIfPresent(detail, forKey: .detail)
        try container.encode(code, forKey: .code)
        try container.encodeIfPresent(errors, forKey: .errors)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = headers
        headers[.contentType] = "application/problem+json"
        let body = try MessageCoding.encoder.encode(self)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    public static func invalidBody(_ failure: ValidationFailure) -> Problem {
        Problem(status: .badRequest, code: "invalid-request", title: "The request is invalid", detail: failure.description, errors: failure.errors)
    }
}

extension Problem {
    /// What a client sees for any error a handler throws: the one mapping
    /// from errors to problem documents, for every HTTP API of the project.
    ///
    /// Nothing of an error the mapping does not know reaches the body, and
    /// a database error never does either: SQL, parameters and connection
    /// details stay in the server's log. A database that cannot be reached,
    /// or a transient failure (deadlock, shutdown, too many connections), is
    /// a 503 with Retry-After: the same request succeeds later.
    public init(_ error: any Error, request: Request) {
        switch error {
        case let problem as Problem:
            self = problem
        case is NIOTooManyBytesError:
            self.init(status: .contentTooLarge, code: "body-too-large", title: "The request body is too large")
        case let error as HTTPError:
            switch error.status {
            case .notFound:
                self.init(status: .notFound, code: "not-found", title: "No such route", detail: "\(request.method) \(request.uri.path)")
            case .methodNotAllowed:
                self.init(status: .methodNotAllowed, code: "method-not-allowed", title: "Method not allowed")
            default:
                self.init(status: error.status, code: "http-\(error.status.code)", title: error.status.reasonPhrase, detail: error.body)
            }
        case let error as PostgresError where error.kind == .connection || error.isTransient:
            self.init(status: .serviceUnavailable, code: "database-unavailable", title: "The database is unavailable", retryAfterSeconds: 2)
        default:
            self = .internalError
        }
    }

    static let internalError = Problem(status: .internalServerError, code: "internal-error", title: "Internal error")
}
