import AMQP
import Instrumentation
import ServiceSupport
import W3CTraceContext

/// The process's `Instrument` over an AMQP header table: a message's
/// `traceparent` and `tracestate` headers (strings), which failure copies,
/// replays and moves keep, so a message back from the DLQ continues its trace.
public struct AMQPHeaderPropagation: Extractor, Injector {
    public init() {}

    public func extract(key: String, from carrier: AMQPTable) -> String? {
        carrier[key]?.stringValue
    }

    public func inject(_ value: String, forKey key: String, into carrier: inout AMQPTable) {
        carrier[key] = .string(value)
    }
}

extension AMQPProperties {
    /// Makes the message a new span of `trace` (a child: the same trace id, a
    /// new parent id): what a message sent in the course of `trace`'s work
    /// carries. The consumer's lines about it are logged under that span.
    public mutating func propagate(_ trace: TraceContext?) {
        guard let trace else { return }
        carry(trace.child())
    }

    /// Writes `trace` itself, a span made already (an outbox row's).
    public mutating func carry(_ trace: TraceContext) {
        InstrumentationSystem.instrument.inject(.tracing(trace), into: &headers, using: AMQPHeaderPropagation())
    }
}

extension AMQPDelivery {
    /// The trace context the message carries. A `QueueWorker` hands its
    /// handler only deliveries that carry one (``startingTraceIfMissing()``),
    /// so a handler gets the same trace every time it asks; a delivery
    /// without one (not from a worker) gets a new trace each time.
    public var trace: TraceContext {
        var context = ServiceContext.topLevel
        InstrumentationSystem.instrument.extract(properties.headers, into: &context, using: AMQPHeaderPropagation())
        return context.traceContext ?? .newTrace()
    }

    /// The delivery itself when it carries a valid trace context; otherwise
    /// a copy that carries a new trace, so its handling, the messages it
    /// implies and its failure copies share one trace id.
    public func startingTraceIfMissing() -> AMQPDelivery {
        var context = ServiceContext.topLevel
        let propagation = AMQPHeaderPropagation()
        InstrumentationSystem.instrument.extract(properties.headers, into: &context, using: propagation)
        guard context.traceContext == nil else { return self }
        var properties = properties
        properties.headers[W3CTracePropagation.tracestate] = nil
        InstrumentationSystem.instrument.inject(.tracing(.newTrace()), into: &properties.headers, using: propagation)
        return AMQPDelivery(
            deliveryTag: deliveryTag, redelivered: redelivered, exchange: exchange, routingKey: routingKey, properties: properties, body: body,
            messagesRemaining: messagesRemaining)
    }
}
