import Instrumentation
import W3CTraceContext

/// The process's `Instrument`: reads and writes a `ServiceContext`'s
/// `traceContext` as the W3C `traceparent` and `tracestate` fields of any
/// carrier (HTTP headers, an AMQP header table), so one order's trace id
/// travels from the HTTP request through every message about it. It records
/// no spans; the log lines carry the ids.
public struct W3CTracePropagation: Instrument {
    /// The header (and AMQP header) names, lower case as the specification writes them.
    public static let traceparent = "traceparent", tracestate = "tracestate"

    public init() {}

    /// Sets the context's `traceContext` from a valid `traceparent`; leaves
    /// the context as it is when there is none or it is invalid.
    public func extract<Carrier, Extract: Extractor>(
        _ carrier: Carrier, into context: inout ServiceContext, using extractor: Extract
    ) where Extract.Carrier == Carrier {
        guard let parent = extractor.extract(key: Self.traceparent, from: carrier),
            let trace = TraceContext(traceparent: parent, tracestate: extractor.extract(key: Self.tracestate, from: carrier))
        else { return }
        context.traceContext = trace
    }

    /// Writes the context's `traceContext` (nothing when it has none).
    public func inject<Carrier, Inject: Injector>(
        _ context: ServiceContext, into carrier: inout Carrier, using injector: Inject
    ) where Inject.Carrier == Carrier {
        guard let trace = context.traceContext else { return }
        injector.inject(trace.traceparent, forKey: Self.traceparent, into: &carrier)
        if let state = trace.traceStateHeaderValue { injector.inject(state, forKey: Self.tracestate, into: &carrier) }
    }

    /// Makes it the process's instrument. `InstrumentationSystem` may be
    /// bootstrapped once per process; this may be called any number of times
    /// (tests run many daemons in one process).
    public static func bootstrap() {
        _ = bootstrapped
    }

    private static let bootstrapped: Void = InstrumentationSystem.bootstrap(W3CTracePropagation())
}
