import AMQP
import Foundation
import Logging
import Messaging
import ServiceSupport
import Synchronization
import TestSupport
import Testing
import Topology

/// A handler whose dependency is away for its first `awayFor` windows, and
/// whose `retriesExhausted` finds it away `markAwayFor` times; it records
/// what it was handed and what the worker's status said meanwhile.
final class OutageStub: DeliveryHandler {
    struct Seen: Sendable {
        var ids: [String]
        var redelivered: [Bool]
        var retryCounts: [Int]
        var away: [String]
    }

    let status: DependencyStatus
    /// Its own name: the `dependency_up` gauge is the process's.
    let dependency = TestEnvironment.uniqueName("dependency")
    let awayFor: Int
    let markAwayFor: Int
    let outcome: DeliveryOutcome
    /// Read each time `retriesExhausted` finds its dependency away: the DLQ's depth then.
    let deadLetterDepth: @Sendable () async throws -> Int
    let windows = Mutex<[Seen]>([])
    let marks = Mutex<[(id: String, deadLettered: Int)]>([])

    init(
        status: DependencyStatus, awayFor: Int, markAwayFor: Int = 0, outcome: DeliveryOutcome = .done,
        deadLetterDepth: @escaping @Sendable () async throws -> Int = { 0 }
    ) {
        self.status = status
        self.awayFor = awayFor
        self.markAwayFor = markAwayFor
        self.outcome = outcome
        self.deadLetterDepth = deadLetterDepth
    }

    func handleBatch(_ deliveries: [AMQPDelivery], logger: Logger) async throws -> HandledWindow {
        let count = windows.withLock { windows in
            windows.append(
                Seen(
                    ids: deliveries.map { $0.properties.messageID ?? "?" }, redelivered: deliveries.map(\.redelivered),
                    retryCounts: deliveries.map { FailureHeaders.retryCount(of: $0.properties) }, away: status.outages.map(\.dependency)))
            return windows.count
        }
        if count <= awayFor { throw DependencyUnavailable(dependency: dependency, detail: "Connection refused") }
        return HandledWindow(outcomes: Array(repeating: outcome, count: deliveries.count))
    }

    func retriesExhausted(_ delivery: AMQPDelivery, reason: String, logger: Logger) async throws {
        let depth = try await deadLetterDepth()
        let count = marks.withLock { marks in
            marks.append((delivery.properties.messageID ?? "?", depth))
            return marks.count
        }
        if count <= markAwayFor { throw DependencyUnavailable(dependency: dependency, detail: "Connection refused") }
    }
}

/// ``QueueWorker`` with a dependency that is away: the window is held (not
/// acked, not returned, no retry counted) and handed over again until it goes
/// through; the status names the dependency meanwhile.
@Suite(.timeLimit(.minutes(2))) struct QueueWorkerOutageTests {
    static let logger: Logger = {
        var logger = Logger(label: "queue-worker-outage-tests")
        logger.logLevel = .critical
        return logger
    }()

    func worker(_ fixture: QueueFixture, handler: OutageStub, status: DependencyStatus) throws -> QueueWorker {
        QueueWorker(
            configuration: QueueWorkerConfiguration(
                amqp: try AMQPConfiguration(url: TestEnvironment.amqpURL, connectionName: "queue-worker-outage-tests"), queues: fixture.topology.payments,
                settings: ConsumeSettings(prefetch: 10, batchSize: 10, loops: 1, linger: .milliseconds(50)), workerName: "outage-test", status: status,
                outageBackoff: .milliseconds(20)...(.milliseconds(100))),
            handler: handler, logger: Self.logger)
    }

    func publish(_ ids: [String], to fixture: QueueFixture, retryCount: Int? = nil) async throws {
        let channel = try await fixture.broker.openConfirmChannel()
        for id in ids {
            var properties = AMQPProperties(contentType: "application/json", deliveryMode: .persistent, messageID: id)
            if let retryCount { properties.headers[FailureHeaders.Name.retryCount] = .int32(Int32(retryCount)) }
            try await channel.publish(Array(#"{"id":"\#(id)"}"#.utf8), routingKey: fixture.topology.payments.main, mandatory: true, properties: properties)
        }
        await channel.close()
    }

    /// Waits until `condition` holds (or 20 s pass).
    func eventually(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while !condition(), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
    }

    @Test func aHeldWindowGoesThroughWhenItsDependencyIsBackWithoutARetryOrARedelivery() async throws {
        // Before any gauge is made: one made earlier counts into the no-op backend,
        // and this suite run alone had nothing to read (other suites bootstrapped it).
        ProcessMetrics.bootstrap()
        try await QueueFixture.with(retryDelayMilliseconds: 600_000, orders: []) { fixture in
            let ids = (0..<3).map { "held-\($0)" }
            try await publish(ids, to: fixture)
            let status = DependencyStatus()
            let stub = OutageStub(status: status, awayFor: 5)
            try await FixtureLifetime.running([try worker(fixture, handler: stub, status: status)], logger: Self.logger) {
                try await eventually { stub.windows.withLock { $0.count } > stub.awayFor }
                try await eventually { status.isReady }
                let drained = try await fixture.broker.waitForDepth(of: fixture.topology.payments.main) { $0 == 0 }
                #expect(drained == 0)
            }
            let windows = stub.windows.withLock { $0 }
            #expect(windows.count == stub.awayFor + 1, "handed over until it went through, then acked: \(windows.count)")
            for window in windows {
                #expect(window.ids == ids, "the same window, in queue order")
                #expect(window.redelivered == [false, false, false], "held in hand, never returned to the queue")
                #expect(window.retryCounts == [0, 0, 0], "no retry counted")
            }
            #expect(windows.first?.away == [], "nothing was away before the first try")
            #expect(windows.dropFirst().allSatisfy { $0.away == [stub.dependency] }, "\(windows.map(\.away))")
            #expect(status.isReady)
            #expect(try await fixture.broker.depth(of: fixture.topology.payments.retry) == 0)
            #expect(try await fixture.broker.depth(of: fixture.topology.payments.deadLetter) == 0)
            #expect(MetricsText.process.value("worker_retries_total", ["queue": fixture.topology.payments.main]) == nil)
            #expect(MetricsText.process.value("dependency_up", ["dependency": stub.dependency]) == 1)
        }
    }

    @Test func aRetriesExhaustedMarkThatFindsItsDependencyAwayHoldsTheDeadLetterCopyUntilItIsRecorded() async throws {
        try await QueueFixture.with(retryDelayMilliseconds: 600_000, orders: []) { fixture in
            // Its retries are spent (MAX_RETRIES 3): a retry outcome dead-letters it.
            try await publish(["spent"], to: fixture, retryCount: 3)
            let status = DependencyStatus()
            let (broker, deadLetter) = (fixture.broker, fixture.topology.payments.deadLetter)
            let stub = OutageStub(
                status: status, awayFor: 0, markAwayFor: 3, outcome: .retry(reason: "lock-timeout", message: "lock timeout"),
                deadLetterDepth: { try await broker.depth(of: deadLetter) })
            try await FixtureLifetime.running([try worker(fixture, handler: stub, status: status)], logger: Self.logger) {
                let dead = try await broker.waitForDepth(of: deadLetter) { $0 >= 1 }
                #expect(dead == 1)
            }
            let marks = stub.marks.withLock { $0 }
            #expect(marks.map(\.id) == ["spent", "spent", "spent", "spent"], "tried until it went through")
            #expect(marks.map(\.deadLettered) == [0, 0, 0, 0], "no copy in the DLQ before the mark was recorded")
            #expect(stub.windows.withLock { $0.count } == 1, "the handler's verdict stands; only the mark is tried again")
            #expect(status.isReady)
            let copies = try await broker.drain(deadLetter)
            #expect(copies.map { $0.properties.messageID } == ["spent"])
            #expect(copies.first?.properties.headers[FailureHeaders.Name.reason]?.stringValue == "lock-timeout")
        }
    }

    /// The broker away is on the status too, from the lost connection until a
    /// new one consumes; the window it had in hand comes again after.
    @Test func aLostBrokerIsOnTheStatusUntilTheWorkerConsumesAgain() async throws {
        try await QueueFixture.with(retryDelayMilliseconds: 600_000, orders: []) { fixture in
            let broker = try AMQPConfiguration(url: TestEnvironment.amqpURL, connectionName: "queue-worker-outage-tests").endpoints[0]
            let proxy = try await FaultProxy(targetHost: broker.host, targetPort: broker.port)
            let status = DependencyStatus()
            let stub = OutageStub(status: status, awayFor: 0)
            var configuration = try worker(fixture, handler: stub, status: status).configuration
            configuration.amqp = try AMQPConfiguration(url: proxy.url(replacingHostAndPortOf: TestEnvironment.amqpURL), connectionName: "queue-worker-outage-tests")
            configuration.reconnectDelay = .milliseconds(50)...(.milliseconds(200))
            let worker = QueueWorker(configuration: configuration, handler: stub, logger: Self.logger)
            try await FixtureLifetime.running([worker], logger: Self.logger) {
                try await publish(["before"], to: fixture)
                try await eventually { stub.windows.withLock { $0.count } == 1 }
                #expect(status.isReady)
                await proxy.cut()
                try await eventually { !status.isReady }
                #expect(status.outages.map(\.dependency) == [QueueWorker.broker])
                try await publish(["during"], to: fixture)
                try await proxy.restore()
                try await eventually { status.isReady && stub.windows.withLock { $0.last?.ids.last == "during" } }
                #expect(status.isReady, "consuming again: \(status.outages)")
            }
            // "before" comes again with "during" when the cut took its ack with the connection (at least once).
            let windows = stub.windows.withLock { $0.map(\.ids) }
            #expect(windows.first == ["before"] && windows.last?.last == "during", "\(windows)")
            await proxy.shutdown()
        }
    }

    @Test func aGracefulShutdownEndsTheWaitPromptlyAndTheHeldWindowGoesBack() async throws {
        try await QueueFixture.with(retryDelayMilliseconds: 600_000, orders: []) { fixture in
            try await publish(["a", "b"], to: fixture)
            let status = DependencyStatus()
            let stub = OutageStub(status: status, awayFor: .max)
            let worker = try worker(fixture, handler: stub, status: status)
            // Each wait is far longer than the test allows the shutdown.
            var configuration = worker.configuration
            configuration.outageBackoff = .seconds(90)...(.seconds(90))
            let waiting = QueueWorker(configuration: configuration, handler: stub, logger: Self.logger)
            let stopping = Mutex<ContinuousClock.Instant?>(nil)
            try await FixtureLifetime.running([waiting], logger: Self.logger) {
                try await eventually { stub.windows.withLock { $0.count } >= 1 }
                #expect(status.outages.map(\.dependency) == [stub.dependency])
                stopping.withLock { $0 = .now }
            }
            let stopped = try #require(stopping.withLock { $0 }).duration(to: .now)
            #expect(stopped < .seconds(20), "stopped in \(stopped), not after the 90 s wait")
            #expect(status.isReady, "a stopped worker waits for nothing")
            let back = try await fixture.broker.waitForDepth(of: fixture.topology.payments.main) { $0 == 2 }
            #expect(back == 2, "the held window is back in the queue")
            let returned = try await fixture.broker.drain(fixture.topology.payments.main)
            #expect(returned.map { $0.properties.messageID } == ["a", "b"])
            #expect(returned.allSatisfy { FailureHeaders.retryCount(of: $0.properties) == 0 })
            #expect(try await fixture.broker.depth(of: fixture.topology.payments.retry) == 0)
            #expect(try await fixture.broker.depth(of: fixture.topology.payments.deadLetter) == 0)
        }
    }
}
