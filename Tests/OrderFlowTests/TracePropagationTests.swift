import AMQP
import Foundation
import HTTPSupport
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Instrumentation
import Messaging
import OrderAPI
import ServiceSupport
import TestSupport
import Testing
import W3CTraceContext

/// The trace context over the project's carriers (HTTP header fields, AMQP
/// header tables), through order-api's requests and the messages they
/// publish, and through the outbox relay.
@Suite(.timeLimit(.minutes(2))) struct TracePropagationTests {
    static let parent = TraceContext(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", tracestate: "rojo=00f067aa0ba902b7")!

    init() {
        // As Daemon.run does; idempotent, since the whole test process shares it.
        W3CTracePropagation.bootstrap()
    }

    @Test func theInstrumentReadsAndWritesHTTPHeaderFields() throws {
        var fields: HTTPFields = [.contentType: "application/json"]
        W3CTracePropagation().inject(.tracing(Self.parent), into: &fields, using: HTTPFieldsPropagation())
        #expect(fields[HTTPField.Name("traceparent")!] == Self.parent.traceParentHeaderValue)
        #expect(fields[HTTPField.Name("tracestate")!] == "rojo=00f067aa0ba902b7")
        var context = ServiceContext.topLevel
        W3CTracePropagation().extract(fields, into: &context, using: HTTPFieldsPropagation())
        #expect(context.traceContext == Self.parent)
        // Field names are case-insensitive on the wire.
        let shouted: HTTPFields = [HTTPField.Name("TraceParent")!: Self.parent.traceParentHeaderValue]
        var fromShouted = ServiceContext.topLevel
        W3CTracePropagation().extract(shouted, into: &fromShouted, using: HTTPFieldsPropagation())
        #expect(fromShouted.traceContext?.traceID == Self.parent.traceID)
    }

    @Test func theInstrumentReadsAndWritesAnAMQPHeaderTable() throws {
        var headers: AMQPTable = ["x-retry-count": .int64(2)]
        W3CTracePropagation().inject(.tracing(Self.parent), into: &headers, using: AMQPHeaderPropagation())
        #expect(headers["traceparent"] == .string(Self.parent.traceParentHeaderValue))
        #expect(headers["tracestate"] == .string("rojo=00f067aa0ba902b7"))
        #expect(headers["x-retry-count"] == .int64(2))
        var context = ServiceContext.topLevel
        W3CTracePropagation().extract(headers, into: &context, using: AMQPHeaderPropagation())
        #expect(context.traceContext == Self.parent)
    }

    /// A message sent in the course of some work is a child span of it; a
    /// delivery reads back the span its message carries, or starts a new trace.
    @Test func aMessageCarriesAChildSpanAndItsDeliveryReadsItBack() throws {
        var properties = AMQPProperties(messageID: "m")
        properties.propagate(Self.parent)
        let sent = try #require(properties.headers["traceparent"]?.stringValue.flatMap { TraceContext(traceparent: $0) })
        #expect(sent.traceID == Self.parent.traceID)
        #expect(sent.spanID != Self.parent.spanID)

        let delivery = Self.delivery(properties)
        #expect(delivery.startingTraceIfMissing().properties == delivery.properties, "a valid trace is kept as it is")
        #expect(delivery.trace.traceID == Self.parent.traceID)
        #expect(delivery.trace.spanID == sent.spanID)

        for headers: AMQPTable in [[:], ["traceparent": .string("00-00000000000000000000000000000000-00f067aa0ba902b7-01"), "tracestate": .string("rojo=1")]] {
            let started = Self.delivery(AMQPProperties(headers: headers, messageID: "m")).startingTraceIfMissing()
            let trace = try #require(started.properties.headers["traceparent"]?.stringValue.flatMap { TraceContext(traceparent: $0) }, "\(headers)")
            #expect(started.trace == trace, "every read of the delivery gives the trace it was handed with")
            #expect(started.trace.traceID != Self.parent.traceID)
            #expect(started.properties.headers["tracestate"] == nil, "a new trace has no state")
        }
    }

    /// The failure copies a worker publishes and an operator's replay keep the
    /// trace headers, so a message back from the DLQ continues its trace.
    @Test func failureCopiesAndReplaysKeepTheTrace() {
        var properties = AMQPProperties(messageID: "m")
        properties.headers = ["traceparent": .string(Self.parent.traceParentHeaderValue), "tracestate": .string("rojo=00f067aa0ba902b7")]
        let failed = FailureHeaders.failureCopy(of: properties, retryCount: 3, reason: "deadlock", message: "m", originalQueue: "q", failedBy: "w")
        let replayed = FailureHeaders.replayCopy(of: failed)
        for copy in [failed, replayed] {
            #expect(copy.headers["traceparent"] == .string(Self.parent.traceParentHeaderValue))
            #expect(copy.headers["tracestate"] == .string("rojo=00f067aa0ba902b7"))
        }
    }

    /// order-api continues a request's trace (or starts one), answers with
    /// its span in `traceparent`, error answers too, and the order message
    /// carries the trace; a cancel sent under the trace the 202 named
    /// writes its order event to the outbox with it, and the relay publishes
    /// the event with that `traceparent`.
    @Test func anOrdersTraceGoesFromTheRequestToItsMessageAndThroughTheOutbox() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.product("trace", stock: ["vendorA": 5])
            let events = try await system.broker.openChannel()
            // Exclusive: it goes with the fixture's connection.
            let eventQueue = try await events.declareQueue(TestEnvironment.uniqueName("trace-events"), durable: false, exclusive: true).name
            try await events.bindQueue(eventQueue, exchange: system.topology.orderEvents, routingKey: "order.#")

            let app = try buildOrderAPI(configuration: system.apiConfiguration(), logger: OrderCommandTests.logger)
            let traceparent = HTTPField.Name("traceparent")!
            let (orderId, orderTrace) = try await app.test(.router) { client -> (String, TraceContext) in
                // A request with a trace continues it.
                let continued = try await client.postOrderUntilAnswered(
                    #"{"productId":"\#(product)","quantity":1}"#, headers: [traceparent: Self.parent.traceParentHeaderValue])
                #expect(continued.status == 202, "\(continued.text)")
                let answered = try #require(continued.headers[traceparent].flatMap { TraceContext(traceparent: $0) })
                #expect(answered.traceID == Self.parent.traceID)
                #expect(answered.spanID != Self.parent.spanID, "the request is a span of its own")

                // An invalid one is ignored: a new trace, named in the answer, an error answer too.
                let invalid = try await client.call(
                    .post, "/order", headers: [.contentType: "application/json", traceparent: "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01"],
                    body: Array("{".utf8))
                #expect(invalid.status == 400)
                let fresh = try #require(invalid.headers[traceparent].flatMap { TraceContext(traceparent: $0) })
                #expect(fresh.traceID != Self.parent.traceID)

                // Without one, the 202 names the new trace, which the client sends its cancel under.
                let placed = try await client.postOrderUntilAnswered(#"{"productId":"\#(product)","quantity":2}"#)
                #expect(placed.status == 202, "\(placed.text)")
                let orderTrace = try #require(placed.headers[traceparent].flatMap { TraceContext(traceparent: $0) })
                let location = try #require(placed.headers[.location])
                var headers = OrderCommandTests.shopBackend
                headers[traceparent] = orderTrace.traceParentHeaderValue
                let cancel = try await client.call(.post, location + "/cancel", headers: headers, body: Array("{}".utf8))
                #expect(cancel.status == 200, "\(cancel.text)")
                return (try #require(placed.json["orderId"] as? String), orderTrace)
            }

            // The order messages carry their requests' traces, each a span of its own.
            let queued = try await system.drain(system.topology.orders.main)
            let sent = Dictionary(queued.map { ($0.properties.messageID ?? "", $0.trace) }) { first, _ in first }
            #expect(sent[orderId]?.traceID == orderTrace.traceID)
            #expect(queued.contains { $0.trace.traceID == Self.parent.traceID }, "the continued request's order carries its trace")

            // The relay (order-worker's) publishes the outbox's order.cancelled with the trace.
            let event = try await system.withWorker { () -> AMQPDelivery? in
                let deadline = ContinuousClock.now + .seconds(30)
                while ContinuousClock.now < deadline {
                    if let delivery = try await events.get(queue: eventQueue, noAck: true) {
                        if delivery.properties.correlationID == orderId, delivery.routingKey == "order.cancelled" { return delivery }
                    } else {
                        try await Task.sleep(for: .milliseconds(100))
                    }
                }
                return nil
            }
            let published = try #require(event, "the relay published order.cancelled")
            let carried = try #require(published.properties.headers["traceparent"]?.stringValue.flatMap { TraceContext(traceparent: $0) })
            #expect(carried.traceID == orderTrace.traceID)
            #expect(carried.spanID != orderTrace.spanID)
        }
    }

    private static func delivery(_ properties: AMQPProperties) -> AMQPDelivery {
        AMQPDelivery(deliveryTag: 1, redelivered: false, exchange: "", routingKey: "q", properties: properties, body: [])
    }
}
