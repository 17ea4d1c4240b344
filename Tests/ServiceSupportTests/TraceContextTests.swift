import Instrumentation
import Logging
import ServiceSupport
import Testing
import W3CTraceContext

/// The W3C trace context: parsing and formatting `traceparent`, child spans,
/// new traces, and the Instrument over a plain dictionary carrier (the HTTP
/// and AMQP carriers are tested where they live, in OrderFlowTests).
@Suite struct TraceContextTests {
    static let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    @Test func parsesAndFormatsAValidTraceparent() throws {
        let trace = try #require(TraceContext(traceparent: Self.valid))
        #expect(trace.traceID.description == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(trace.spanID.description == "00f067aa0ba902b7")
        #expect(trace.flags == .sampled)
        #expect(trace.traceparent == Self.valid)
        let unsampled = try #require(TraceContext(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"))
        #expect(!unsampled.flags.contains(.sampled))
        #expect(unsampled.traceparent == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
    }

    /// Our one-buffer `traceparent` writes what the library's value does, for
    /// ids with every digit and for every flags byte.
    @Test func traceparentIsTheLibrarysValue() throws {
        for flags in [0, 1, 0x0a, 0xff] as [UInt8] {
            for _ in 0..<200 {
                let random = TraceContext.newTrace()
                let trace = TraceContext(traceID: random.traceID, spanID: random.spanID, flags: TraceFlags(rawValue: flags), state: TraceState())
                #expect(trace.traceparent == trace.traceParentHeaderValue)
                #expect(trace.traceparent.utf8.count == 55)
            }
        }
    }

    @Test(arguments: [
        ("version ff", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        ("an unknown version this parser cannot read", "zz-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        ("all-zero trace id", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
        ("all-zero parent id", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"),
        ("one character short", "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01"),
        ("one character long", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-011"),
        ("upper-case hex", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01"),
        ("upper-case flags", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A"),
        ("wrong delimiters", "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01"),
        ("not hex", "00-4bf92f3577b34da6a3ce929d0e0e47zz-00f067aa0ba902b7-01"),
        ("empty", ""),
    ])
    func ignoresAnInvalidTraceparent(_ invalid: (why: String, value: String)) {
        #expect(TraceContext(traceparent: invalid.value) == nil, "\(invalid.why)")
    }

    @Test func keepsAWellFormedTracestateAndDropsAMalformedOneButNotTheParent() throws {
        let kept = try #require(TraceContext(traceparent: Self.valid, tracestate: "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"))
        #expect(kept.traceStateHeaderValue == "congo=t61rcWkgMzE, rojo=00f067aa0ba902b7")
        let dropped = try #require(TraceContext(traceparent: Self.valid, tracestate: "=no vendor, ,,"))
        #expect(dropped.traceStateHeaderValue == nil)
        #expect(dropped.traceParentHeaderValue == Self.valid)
    }

    @Test func aChildKeepsTheTraceAndTakesANewParentId() throws {
        let parent = try #require(TraceContext(traceparent: Self.valid, tracestate: "rojo=00f067aa0ba902b7"))
        let children = (0..<100).map { _ in parent.child() }
        for child in children {
            #expect(child.traceID == parent.traceID)
            #expect(child.spanID != parent.spanID)
            #expect(child.spanID != .null)
            #expect(child.flags == parent.flags)
            #expect(child.traceStateHeaderValue == parent.traceStateHeaderValue)
        }
        #expect(Set(children.map(\.spanID)).count == children.count, "random span ids do not repeat")
    }

    @Test func aNewTraceHasRandomNonZeroIdsAndFormatsAsValidTraceparent() throws {
        let traces = (0..<100).map { _ in TraceContext.newTrace() }
        #expect(Set(traces.map(\.traceID)).count == traces.count)
        for trace in traces {
            #expect(trace.traceID != .null && trace.spanID != .null)
            let header = trace.traceParentHeaderValue
            #expect(header.utf8.count == 55)
            #expect(TraceContext(traceparent: header) == trace, "what it writes it reads back")
        }
    }

    @Test func theInstrumentInjectsAndExtractsBothHeaders() throws {
        let instrument = W3CTracePropagation()
        let trace = try #require(TraceContext(traceparent: Self.valid, tracestate: "rojo=00f067aa0ba902b7"))
        var carrier: [String: String] = [:]
        instrument.inject(.tracing(trace), into: &carrier, using: DictionaryPropagation())
        #expect(carrier == ["traceparent": Self.valid, "tracestate": "rojo=00f067aa0ba902b7"])

        var context = ServiceContext.topLevel
        instrument.extract(carrier, into: &context, using: DictionaryPropagation())
        #expect(context.traceContext == trace)

        // Nothing, or nothing valid, leaves the context as it was; a context without a trace writes nothing.
        for invalid in [[:], ["traceparent": "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"], ["tracestate": "rojo=1"]] {
            var untouched = ServiceContext.topLevel
            instrument.extract(invalid, into: &untouched, using: DictionaryPropagation())
            #expect(untouched.traceContext == nil, "\(invalid)")
        }
        var empty: [String: String] = [:]
        instrument.inject(.topLevel, into: &empty, using: DictionaryPropagation())
        #expect(empty.isEmpty)
    }

    @Test func continuingATraceMakesAChildOrStartsANewTrace() throws {
        W3CTracePropagation.bootstrap()
        W3CTracePropagation.bootstrap()  // a second daemon in the same process
        let parent = try #require(TraceContext(traceparent: Self.valid))
        let continued = TraceContext.continuing(["traceparent": Self.valid], using: DictionaryPropagation())
        #expect(continued.traceID == parent.traceID)
        #expect(continued.spanID != parent.spanID)
        let started = TraceContext.continuing(["traceparent": "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01"], using: DictionaryPropagation())
        #expect(started.traceID != parent.traceID, "an invalid traceparent starts a new trace")
    }

    @Test func logLinesInsideATraceCarryItsIds() throws {
        let trace = try #require(TraceContext(traceparent: Self.valid))
        #expect(Logger.MetadataProvider.traceContext.get().isEmpty, "no trace, no ids")
        let provided = ServiceContext.withValue(.tracing(trace)) { Logger.MetadataProvider.traceContext.get() }
        #expect(provided == [LogKey.traceId: "4bf92f3577b34da6a3ce929d0e0e4736", LogKey.spanId: "00f067aa0ba902b7"])
    }
}

/// A carrier of the simplest kind, for the Instrument alone.
private struct DictionaryPropagation: Extractor, Injector {
    func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
}
