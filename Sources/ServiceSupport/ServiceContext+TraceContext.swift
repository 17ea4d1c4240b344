import Instrumentation
import W3CTraceContext

extension ServiceContext {
    /// The W3C trace context of the work in hand: the span its log lines
    /// name (`trace_id`, `span_id`) and the parent of every message it sends.
    public var traceContext: TraceContext? {
        get { self[TraceContextKey.self] }
        set { self[TraceContextKey.self] = newValue }
    }

    /// A context holding `trace` alone: what a request, a delivery or a
    /// background pass runs under.
    public static func tracing(_ trace: TraceContext) -> ServiceContext {
        var context = ServiceContext.topLevel
        context.traceContext = trace
        return context
    }
}

private enum TraceContextKey: ServiceContextKey {
    typealias Value = TraceContext
    static var nameOverride: String? { "w3c-trace-context" }
}
