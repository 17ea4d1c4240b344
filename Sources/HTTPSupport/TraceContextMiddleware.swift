import HTTPTypes
import Hummingbird
import Instrumentation
import ServiceSupport
import W3CTraceContext

/// Runs each request as a span of the trace its `traceparent` header names
/// (a new trace when it names none, or an invalid one), current in
/// `ServiceContext` for everything the request does: its log lines carry
/// `trace_id`, the messages it publishes carry the trace on. The response,
/// error responses included, names the request's span in `traceparent`, so
/// a client that sent none finds its trace in the logs.
public struct TraceContextMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let trace = TraceContext.continuing(request.headers, using: HTTPFieldsPropagation())
        var response: Response
        do {
            response = try await ServiceContext.withValue(.tracing(trace)) { try await next(request, context) }
        } catch let error as HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        InstrumentationSystem.instrument.inject(.tracing(trace), into: &response.headers, using: HTTPFieldsPropagation())
        return response
    }
}
