import HTTPTypes
import Hummingbird

/// Answers, for a path some route matches, the methods none of its routes
/// take: OPTIONS with 204 and `Allow`, anything else with a 405 problem and
/// `Allow` (RFC 9110, 15.5.6). Paths no route matches stay 404. Built by
/// ``HTTPRouter`` from its routes.
public struct AllowedMethodsMiddleware<Context: RequestContext>: RouterMiddleware {
    struct Route: Sendable {
        let path: RouterPath
        var methods: [HTTPRequest.Method]

        /// What the path answers: its routes' methods, HEAD wherever GET is
        /// (the router generates it), and OPTIONS (answered here).
        var allowed: [HTTPRequest.Method] {
            var allowed = methods
            if let get = allowed.firstIndex(of: .get), !allowed.contains(.head) { allowed.insert(.head, at: get + 1) }
            if !allowed.contains(.options) { allowed.append(.options) }
            return allowed
        }

        /// Segment by segment, as the router's trie matches: a literal
        /// matches itself, a `{capture}` any one segment.
        func matches(_ segments: [Substring]) -> Bool {
            path.components.count == segments.count && zip(path.components, segments).allSatisfy { $0 ~= $1 }
        }
    }

    private let routes: [(route: Route, allow: [HTTPRequest.Method])]

    init(routes: [Route]) {
        self.routes = routes.map { ($0, $0.allowed) }
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            guard let allowed = allowedMethods(at: request.uri.path) else { throw error }
            let allow = allowed.map(\.rawValue).joined(separator: ", ")
            if request.method == .options {
                var response = Response(status: .noContent, headers: [.allow: allow])
                // Response adds one for its empty body; a 204 has none (RFC 9110, 8.6).
                response.headers[.contentLength] = nil
                return response
            }
            throw Problem(
                status: .methodNotAllowed, code: "method-not-allowed", title: "Method not allowed",
                detail: "\(request.uri.path) answers \(allow), not \(request.method)", headers: [.allow: allow])
        }
    }

    /// The union of the methods of every route matching the path (the
    /// servers' paths do not overlap, so that is one route's); nil when none does.
    private func allowedMethods(at path: String) -> [HTTPRequest.Method]? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        var allowed: [HTTPRequest.Method]?
        for (route, allow) in routes where route.matches(segments) {
            allowed = (allowed ?? []) + allow.filter { !(allowed ?? []).contains($0) }
        }
        return allowed
    }
}
