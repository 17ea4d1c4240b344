import Hummingbird
import ServiceSupport

/// Turns every error into a problem document (``Problem/init(_:request:)``),
/// so no client ever sees an empty or HTML error; errors the mapping does not
/// know are logged here, where their detail is safe. A HEAD request gets the
/// problem's status and headers without its body (RFC 9110, 9.3.2).
public struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let problem = Problem(error, request: request)
            if problem.status == .internalServerError, !(error is Problem) {
                context.logger.error("unhandled error", metadata: [LogKey.error: "\(error)"])
            } else if problem.status == .serviceUnavailable, !(error is Problem) {
                // The client only learns to retry; the operator needs the cause (a deadlock, a lost connection).
                context.logger.warning("answered 503", metadata: [LogKey.error: "\(error)"])
            }
            guard request.method == .head else { throw problem }
            return try problem.response(from: request, context: context).createHeadResponse()
        }
    }
}
