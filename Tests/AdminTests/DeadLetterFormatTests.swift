import AMQP
import Admin
import Foundation
import Messaging
import OrderCore
import Testing
import Topology

/// The parts without I/O: durations, typed header JSON, the decoded view, the replay and move copies.
struct DeadLetterFormatTests {
    @Test func durationsAsOperatorsTypeThem() {
        #expect(DurationText.parse("90s") == 90)
        #expect(DurationText.parse("10m") == 600)
        #expect(DurationText.parse("2h") == 7200)
        #expect(DurationText.parse("1d") == 86400)
        #expect(DurationText.parse("1h30m") == 5400)
        #expect(DurationText.parse("500ms") == 0.5)
        for bad in ["", "10", "m", "5x", "1.5h", "-3m", "10 m"] { #expect(DurationText.parse(bad) == nil, "\(bad)") }
        #expect(DurationText.format(42) == "42s")
        #expect(DurationText.format(725) == "12m 05s")
        #expect(DurationText.format(3 * 3600 + 20 * 60) == "3h 20m")
        #expect(DurationText.format(4 * 86400 + 6 * 3600) == "4d 6h")
    }

    @Test func typedHeadersSurviveJSON() throws {
        let values: [AMQPValue] = [
            .bool(true), .int8(-1), .uint8(255), .int16(-300), .uint16(65535), .int32(.min), .uint32(.max), .int64(.min),
            .uint64(.max), .float(3.5), .double(-0.1), .double(.infinity), .decimal(scale: 3, value: 1), .string("é \"q\"\n"),
            .bytes([0, 255]), .timestamp(1_700_000_000), .array([.int8(1), .string("x")]), .table(["k": .table(["v": .void])]), .void,
        ]
        let table = Dictionary(uniqueKeysWithValues: values.enumerated().map { ("h\($0.offset)", $0.element) })
        let data = try JSONLines.encoder.encode(table.mapValues(TypedValue.init))
        let back = try JSONLines.decoder.decode([String: TypedValue].self, from: data).mapValues(\.value)
        #expect(back == table)
        #expect(String(decoding: try JSONEncoder().encode(TypedValue(.int64(3))), as: UTF8.self).contains(#""type":"int64""#))
        #expect(throws: (any Error).self) { try JSONDecoder().decode(TypedValue.self, from: Data(#"{"type":"money","value":1}"#.utf8)) }
    }

    static func delivery(_ headers: AMQPTable, body: [UInt8] = [1]) -> AMQPDelivery {
        AMQPDelivery(
            deliveryTag: 1, redelivered: false, exchange: "", routingKey: "orders_dlq",
            properties: AMQPProperties(contentType: "application/json", headers: headers, deliveryMode: .persistent, correlationID: "c",
                                       messageID: "m", timestamp: Date(timeIntervalSince1970: 1_700_000_000), type: "order.placed.v1"),
            body: body)
    }

    static let xDeath: AMQPValue = .array([
        .table(["count": .int64(2), "reason": "delivery_limit", "queue": "orders_queue", "time": .timestamp(1_700_000_100), "exchange": "",
                "routing-keys": .array(["orders_queue"])]),
        .table(["count": .int64(1), "reason": "expired", "queue": "orders_retry_queue", "time": .timestamp(1_700_000_050)]),
    ])

    @Test func theDecodedViewPrefersTheWorkersHeadersAndFallsBackOnXDeath() {
        let broker = DeadLetterMessage(queue: "orders_dlq", delivery: Self.delivery(["x-death": Self.xDeath, "x-delivery-count": .int64(10)]))
        #expect(broker.reason == "delivery_limit")
        #expect(broker.originalQueue == "orders_queue")
        #expect(broker.deadLetteredByBroker)
        #expect(broker.deaths.map(\.queue) == ["orders_queue", "orders_retry_queue"])
        #expect(broker.deaths.first?.count == 2)
        #expect(broker.failedAt == Date(timeIntervalSince1970: 1_700_000_100))

        let worker = DeadLetterMessage(queue: "orders_dlq", delivery: Self.delivery([
            "x-death": Self.xDeath, "x-error-reason": "deadlock", "x-original-queue": "elsewhere", "x-retry-count": .int32(3),
            "x-failed-at": "2026-01-01T00:00:00.000Z",
        ]))
        #expect(worker.reason == "deadlock" && worker.originalQueue == "elsewhere" && worker.retryCount == 3 && !worker.deadLetteredByBroker)
        #expect(worker.failedAt == MessageCoding.parseDate("2026-01-01T00:00:00.000Z"))

        let bare = DeadLetterMessage(queue: "orders_dlq", delivery: Self.delivery([:]))
        #expect(bare.reason == DeadLetterMessage.unknownReason && bare.originalQueue == nil)
        #expect(bare.age(at: Date(timeIntervalSince1970: 1_700_000_060)) == 60, "falls back on the message timestamp")

        let now = MessageCoding.parseDate("2026-01-01T02:00:00.000Z")!
        #expect(DeadLetterFilter(reasons: ["deadlock"], olderThan: 3600).matches(worker, now: now))
        #expect(!DeadLetterFilter(olderThan: 3 * 3600).matches(worker, now: now))
        #expect(!DeadLetterFilter(reasons: ["lock-timeout"]).matches(worker, now: now))
        #expect(DeadLetterFilter(messageIDs: ["m"]).matches(worker, now: now))
    }

    @Test func replayAndMoveCopies() {
        let headers: AMQPTable = [
            "x-death": Self.xDeath, "x-first-death-queue": "orders_queue", "x-last-death-reason": "delivery_limit", "x-delivery-count": .int64(4),
            "x-retry-count": .int64(3), "x-error-reason": "deadlock", "x-error-message": "40P01", "x-failed-at": "2026-01-01T00:00:00.000Z",
            "x-original-queue": "orders_queue", "x-failed-by": "order-worker", "x-replay-count": .int64(1), "x-tenant": "t1",
        ]
        let message = DeadLetterMessage(queue: "orders_dlq", delivery: Self.delivery(headers))
        let replay = FailureHeaders.replayCopy(of: message.delivery.properties)
        #expect(Set(replay.headers.keys) == ["x-retry-count", "x-replay-count", "x-replayed-at", "x-tenant"])
        #expect(replay.headers["x-retry-count"] == .int64(0))
        #expect(replay.headers["x-replay-count"] == .int64(2))
        var unchanged = replay
        unchanged.headers = message.delivery.properties.headers
        #expect(unchanged == message.delivery.properties, "every other property is kept")

        let broker = DeadLetterMessage(queue: "orders_dlq", delivery: Self.delivery(["x-death": Self.xDeath, "x-delivery-count": .int64(10)]))
        let moved = broker.movedProperties
        #expect(moved.headers["x-error-reason"] == .string("delivery_limit"))
        #expect(moved.headers["x-original-queue"] == .string("orders_queue"))
        #expect(moved.headers["x-failed-by"] == .string("rabbitmq"))
        #expect(moved.headers["x-failed-at"] != nil)
        for name in FailureHeaders.Name.brokerDeadLetter { #expect(moved.headers[name] == nil) }
        #expect(message.movedProperties.headers["x-error-reason"] == .string("deadlock"), "the worker's reason is kept")
    }

    @Test func commandsWorkOnDeadLetterQueuesOnly() throws {
        let admin = DeadLetterAdmin(amqpURL: "amqp://127.0.0.1:1", topology: Topology(prefix: "p."))
        #expect(try admin.queues([]) == ["p.orders_dlq", "p.vendor_sync_dlq", "p.payments_dlq", "p.payment_outcomes_dlq", "p.fulfilment_dlq"])
        #expect(try admin.queues(["p.orders_dlq", "archive"]) == ["p.orders_dlq", "archive"])
        for workQueue in ["p.orders_queue", "p.orders_retry_queue", "p.vendor_sync", "p.fulfilment_retry_2"] {
            #expect(throws: AdminError.self, "\(workQueue)") { try admin.queues([workQueue]) }
        }
    }

    @Test func outputValuesAreValidJSON() throws {
        let value = JSONValue.object(["a": .array([.integer(1), .string("q\"\u{1}\n"), .null, .number(1.5), .bool(false)]), "b": .object([:])])
        for pretty in [true, false] {
            let object = try JSONSerialization.jsonObject(with: Data(value.json(pretty: pretty).utf8)) as? [String: Any]
            #expect((object?["a"] as? [Any])?[1] as? String == "q\"\u{1}\n")
        }
    }

    /// `dlq peek --output json` shows a header in the shape `dlq export` writes it.
    @Test func peekShowsHeadersInTheExportShape() throws {
        func typed(_ type: String, _ value: JSONValue) -> JSONValue { .object(["type": .string(type), "value": value]) }
        let expected: [(AMQPValue, JSONValue)] = [
            (.int64(3), typed("int64", .integer(3))),
            (.uint64(7), typed("uint64", .integer(7))),
            (.string("x"), typed("string", .string("x"))),
            (.decimal(scale: 2, value: 1234), typed("decimal", .object(["scale": .integer(2), "value": .integer(1234)]))),
            (.bytes([0, 255]), typed("bytes", .string("AP8="))),
            (.timestamp(1_700_000_000), typed("timestamp", .integer(1_700_000_000))),
            (.table(["k": .array([.bool(true)])]), typed("table", .object(["k": typed("array", .array([typed("bool", .bool(true))]))]))),
            (.void, .object(["type": .string("void")])),
        ]
        for (value, json) in expected {
            #expect(TypedValue(value).json == json, "\(value)")
            let exported = try JSONLines.decoder.decode(TypedValue.self, from: Data(TypedValue(value).json.json(pretty: false).utf8))
            #expect(exported.value == value, "what peek shows reads back as the export's type")
        }
    }

    /// Table output's JSON form goes through the same writer: valid JSON, DEL unescaped, as JSONEncoder writes it.
    @Test func reportJSONIsOneArrayOfObjects() throws {
        let report = Report(columns: ["queue", "count"], rows: [["a\u{7F}/b", "1"], ["c", "2"]])
        let text = report.render(.json)
        #expect(text.contains("\u{7F}") && !text.contains(#"\u007f"#))
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: String]])
        #expect(rows == [["queue": "a\u{7F}/b", "count": "1"], ["queue": "c", "count": "2"]])
        #expect(Report(columns: ["x"], rows: []).render(.json) == "[]")
    }
}
