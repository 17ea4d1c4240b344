@testable import AMQP
import Testing

@Suite struct ConfirmTrackerTests {
    private func outcomes(_ settled: [(Int, ConfirmTracker<Int>.Outcome)]) -> [Int: String] {
        Dictionary(uniqueKeysWithValues: settled.map { waiter, outcome in
            switch outcome {
            case .confirmed: (waiter, "ok")
            case .failed(let error): (waiter, "\(error.kind)")
            }
        })
    }

    @Test func tagsCountUpFromOne() {
        var tracker = ConfirmTracker<Int>()
        #expect(tracker.register(exchange: "", routingKey: "q", messageID: nil, waiter: 1) == 1)
        #expect(tracker.register(exchange: "", routingKey: "q", messageID: nil, waiter: 2) == 2)
        #expect(tracker.inFlight == 2)
    }

    @Test func multipleAckSettlesEverythingUpToTheTag() {
        var tracker = ConfirmTracker<Int>()
        for waiter in 1...5 { tracker.register(exchange: "", routingKey: "q", messageID: nil, waiter: waiter) }
        #expect(outcomes(tracker.ack(2, multiple: false)) == [2: "ok"])
        #expect(outcomes(tracker.ack(4, multiple: true)) == [1: "ok", 3: "ok", 4: "ok"])
        #expect(tracker.inFlight == 1)
        #expect(outcomes(tracker.ack(4, multiple: true)).isEmpty)
        #expect(outcomes(tracker.nack(5, multiple: false)) == [5: "nacked"])
        #expect(tracker.inFlight == 0)
    }

    @Test func returnedMessageFailsOnItsAckAndOthersDoNot() {
        var tracker = ConfirmTracker<Int>()
        tracker.register(exchange: "", routingKey: "a", messageID: "m1", waiter: 1)
        tracker.register(exchange: "", routingKey: "missing", messageID: "m2", waiter: 2)
        tracker.register(exchange: "", routingKey: "missing", messageID: "m3", waiter: 3)
        tracker.returned(exchange: "", routingKey: "missing", messageID: "m2", error: AMQPError(kind: .returned, replyCode: .noRoute, message: "NO_ROUTE"))
        #expect(outcomes(tracker.ack(3, multiple: true)) == [1: "ok", 2: "returned", 3: "ok"])
    }

    @Test func failAllFailsEveryWaiter() {
        var tracker = ConfirmTracker<Int>()
        for waiter in 1...3 { tracker.register(exchange: "", routingKey: "q", messageID: nil, waiter: waiter) }
        let failed = outcomes(tracker.failAll(AMQPError(kind: .connectionFailed, message: "gone")))
        #expect(failed == [1: "connectionFailed", 2: "connectionFailed", 3: "connectionFailed"])
        #expect(tracker.inFlight == 0)
    }
}

@Suite struct AMQPConfigurationTests {
    @Test func parsesAFullURL() throws {
        let config = try AMQPConfiguration(url: "amqp://user%40x:p%3Ass@broker.local:5673/orders%2Fprod?heartbeat=7&connection_timeout=2500")
        #expect(config.endpoints == [AMQPConfiguration.Endpoint(host: "broker.local", port: 5673)])
        #expect(config.user == "user@x")
        #expect(config.password == "p:ss")
        #expect(config.vhost == "orders/prod")
        #expect(config.heartbeat == 7)
        #expect(config.connectTimeout == .milliseconds(2500))
        #expect(!config.redactedURL.contains("p:ss"))
    }

    @Test func defaultVhostForms() throws {
        #expect(try AMQPConfiguration(url: "amqp://localhost").vhost == "/")
        #expect(try AMQPConfiguration(url: "amqp://localhost/").vhost == "/")
        #expect(try AMQPConfiguration(url: "amqp://localhost/%2F").vhost == "/")
        #expect(try AMQPConfiguration(url: "amqp://localhost:5672").endpoints.map(\.port) == [5672])
    }

    @Test func rejectsBadURLs() {
        #expect(throws: AMQPError.self) { try AMQPConfiguration(url: "http://localhost") }
        #expect(throws: AMQPError.self) { try AMQPConfiguration(url: "amqp://localhost/?heartbeat=soon") }
        #expect(throws: AMQPError.self) { try AMQPConfiguration(url: "amqp://localhost/?bogus=1") }
        #expect(throws: AMQPError.self) { try AMQPConfiguration(url: "amqp://localhost/a/b") }
    }
}
