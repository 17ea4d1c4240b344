import HTTPTypes
import Hummingbird

/// The router of the project's HTTP servers: Hummingbird's `Router` with the
/// method semantics RFC 9110 asks of every resource, which Hummingbird leaves
/// to the application. HEAD is answered wherever GET is (the GET's status and
/// headers, no body); OPTIONS on a known path is a 204 with `Allow`; another
/// method on a known path is a 405 problem with `Allow`, where the plain
/// router says 404. The methods come from the routes as they are added, so
/// no list of them is kept by hand.
///
/// Used like `Router` (`get`, `post`, `add(middleware:)`, then handed to
/// `Application`), it adds ``AllowedMethodsMiddleware`` when the responder is
/// built, after every route: a middleware added then wraps only the
/// not-found responder, so matched routes pay nothing for it.
///
/// Every request is counted and timed by Hummingbird's `MetricsMiddleware`
/// (into ``ProcessMetrics``): `http_server_requests_total`, `http_server_request_errors_total`
/// and `http_server_request_duration_seconds` by route pattern (`/orders/{id}`, never the
/// raw path, so the label set stays bounded), method and status.
public final class HTTPRouter<Context: RequestContext>: RouterMethods, HTTPResponderBuilder {
    private let router: Router<Context>
    private var routes: [AllowedMethodsMiddleware<Context>.Route] = []

    public init(context: Context.Type = BasicRequestContext.self) {
        router = Router(context: context, options: .autoGenerateHeadEndpoints)
        // First, so it sees the status the problem middleware (added after it) answers with.
        router.add(middleware: MetricsMiddleware())
    }

    @discardableResult
    public func on<Responder: HTTPResponder>(
        _ path: RouterPath, method: HTTPRequest.Method, responder: Responder
    ) -> Self where Responder.Context == Context {
        router.on(path, method: method, responder: responder)
        if let index = routes.firstIndex(where: { $0.path == path }) {
            routes[index].methods.append(method)
        } else {
            routes.append(.init(path: path, methods: [method]))
        }
        return self
    }

    @discardableResult
    public func add(middleware: any MiddlewareProtocol<Request, Response, Context>) -> Self {
        router.add(middleware: middleware)
        return self
    }

    public func buildResponder() -> RouterResponder<Context> {
        router.add(middleware: AllowedMethodsMiddleware<Context>(routes: routes))
        return router.buildResponder()
    }
}
