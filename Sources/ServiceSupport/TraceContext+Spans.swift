import Instrumentation
import Logging
import W3CTraceContext

extension TraceContext {
    /// A new trace: random trace and span ids (kernel random bytes, pooled;
    /// never the all-zero ids the W3C format reserves), sampled, because
    /// every trace is logged.
    public static func newTrace() -> TraceContext {
        TraceContext(traceID: nonNullTraceID(), spanID: nonNullSpanID(), flags: .sampled, state: TraceState())
    }

    /// A span inside this one: the same trace id, flags and state, a new
    /// span id. What a request's handling, or a message sent by some work, runs as.
    public func child() -> TraceContext {
        TraceContext(traceID: traceID, spanID: Self.nonNullSpanID(), flags: flags, state: state)
    }

    /// The context `traceparent` names, with `tracestate`'s entries when that
    /// is well-formed; nil when `traceparent` is not a valid version-00 value
    /// (wrong length, upper-case hex, all-zero ids, version ff, …), which the
    /// W3C specification says to ignore. A malformed `tracestate` alone is
    /// dropped, as the specification asks, and the parent still holds.
    public init?(traceparent: String, tracestate: String? = nil) {
        if let tracestate, let parsed = try? TraceContext(traceParentHeaderValue: traceparent, traceStateHeaderValue: tracestate) {
            self = parsed
        } else if let parsed = try? TraceContext(traceParentHeaderValue: traceparent) {
            self = parsed
        } else {
            return nil
        }
    }

    /// The work that takes over from what `carrier` carries: a child of its
    /// trace context (through the process's `Instrument`), or a new trace
    /// when it carries none or an invalid one.
    public static func continuing<Extract: Extractor>(_ carrier: Extract.Carrier, using extractor: Extract) -> TraceContext {
        var context = ServiceContext.topLevel
        InstrumentationSystem.instrument.extract(carrier, into: &context, using: extractor)
        return context.traceContext?.child() ?? newTrace()
    }

    /// `traceparent`'s version-00 value, `00-<trace id>-<span id>-<flags>`,
    /// written into one string of 55 bytes. The library's
    /// `traceParentHeaderValue` interpolates four strings made for it; every
    /// message a worker handles or sends carries one (a tenth of order-worker's
    /// CPU in a drain went to it).
    public var traceparent: String {
        String(unsafeUninitializedCapacity: 55) { text in
            var end = 0
            func append(_ byte: UInt8) {
                text[end] = byte
                end += 1
            }
            func digit(_ nibble: UInt8) -> UInt8 { nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10 }
            func appendHex(_ byte: UInt8) {
                append(digit(byte >> 4))
                append(digit(byte & 0x0F))
            }
            append(UInt8(ascii: "0"))
            append(UInt8(ascii: "0"))
            append(UInt8(ascii: "-"))
            withUnsafeBytes(of: traceID.bytes) { $0.forEach(appendHex) }
            append(UInt8(ascii: "-"))
            withUnsafeBytes(of: spanID.bytes) { $0.forEach(appendHex) }
            append(UInt8(ascii: "-"))
            appendHex(flags.rawValue)
            return end
        }
    }

    /// `trace_id` and `span_id`, for a line about one order among the many a
    /// window handles (the process's current context names only one).
    public var logMetadata: Logger.Metadata {
        [LogKey.traceId: .string(traceID.description), LogKey.spanId: .string(spanID.description)]
    }

    private static func nonNullTraceID() -> TraceID {
        var generator = PooledRandomNumberGenerator()
        while true {
            let id = TraceID.random(using: &generator)
            if id != .null { return id }
        }
    }

    private static func nonNullSpanID() -> SpanID {
        var generator = PooledRandomNumberGenerator()
        while true {
            let id = SpanID.random(using: &generator)
            if id != .null { return id }
        }
    }
}
