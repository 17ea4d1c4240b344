import Admin
import Hummingbird
import Logging

/// Renders what a page could not do as an HTML page: a refusal with its
/// status, an unknown path as 404, a broker or database failure as 502 with
/// its (escaped) message, since the operator needs to know which failed.
struct ConsoleErrorMiddleware: RouterMiddleware {
    typealias Context = ConsoleRequestContext
    let access: ConsoleAccess

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let refusal as ConsoleRefusal {
            return access.page(refusal.title, for: request, status: refusal.status, "<p class=\"notice\" id=\"refusal\">\(HTML.escape(refusal.message))</p>")
        } catch let error as any HTTPResponseError {
            // An unknown path, a method the path does not take (with its Allow header), a body too large.
            var response = access.page("\(error.status.code) \(error.status.reasonPhrase)", for: request, status: error.status, "")
            if let allow = (try? error.response(from: request, context: context))?.headers[.allow] { response.headers[.allow] = allow }
            return response
        } catch {
            context.logger.error("console page failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            return access.page(
                "Could not answer", for: request, status: .badGateway,
                "<p class=\"notice warn\">\(HTML.escape("\(error)"))</p><p>Nothing was changed unless the message above says so.</p>")
        }
    }
}
