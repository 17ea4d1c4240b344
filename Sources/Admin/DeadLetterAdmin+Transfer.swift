import AMQP
import Foundation
import Messaging

/// How a replay or move runs.
public struct TransferOptions: Sendable {
    public var filter: DeadLetterFilter
    /// Most matching messages to handle (replayed or failed); nil: no limit.
    public var limit: Int?
    /// Decide and count, but publish nothing and remove nothing.
    public var dryRun: Bool
    /// Most messages published per second; nil: as fast as the confirms come.
    public var rate: Double?
    /// Publishes awaiting their confirm at once.
    public var window: Int

    public init(filter: DeadLetterFilter = .all, limit: Int? = nil, dryRun: Bool = false, rate: Double? = nil, window: Int = 32) {
        self.filter = filter
        self.limit = limit
        self.dryRun = dryRun
        self.rate = rate
        self.window = max(1, window)
    }
}

extension DeadLetterAdmin {
    /// `dlq replay`: sends matching messages back to the queue they failed
    /// in (`x-original-queue`, else `x-death[0].queue`, else the main queue
    /// of the DLQ's queue set), with `x-retry-count` 0 and without the
    /// failure and broker dead-letter headers (`FailureHeaders.replayCopy`).
    ///
    /// Each copy is published with `mandatory` on a confirm channel, and the
    /// DLQ's message is acknowledged only after the broker confirmed the
    /// copy: a crash at any point loses nothing (a crash between the confirm
    /// and the ack leaves the message in both places; the worker applies an
    /// order once, by its id). Messages that do not match, or cannot be
    /// published, are put back.
    public func replay(
        queues selected: [String] = [], options: TransferOptions, now: Date = Date(),
        progress: (@Sendable (TransferProgress) -> Void)? = nil
    ) async throws -> TransferResult {
        let topology = topology
        return try await transfer(.replay, queues: try queues(selected), options: options, now: now, progress: progress) { message in
            let target = message.originalQueue ?? topology.queueSet(containing: message.queue).map(\.main)
            guard let target else {
                return .failure("no x-original-queue or x-death header says where it came from (use dlq move --to)")
            }
            guard target != message.queue else { return .failure("its original queue is \(message.queue) itself") }
            return .success((target, FailureHeaders.replayCopy(of: message.delivery.properties, now: now)))
        }
    }

    /// `dlq move --to QUEUE`: the same safety as replay (confirm, mandatory,
    /// ack after the confirm); the failure headers are kept, and what only
    /// `x-death` said is written into them before the broker's dead-letter
    /// headers are stripped (`DeadLetterMessage.movedProperties`). The target must
    /// exist.
    public func move(
        queues selected: [String] = [], to target: String, options: TransferOptions, now: Date = Date(),
        progress: (@Sendable (TransferProgress) -> Void)? = nil
    ) async throws -> TransferResult {
        let sources = try queues(selected)
        guard !sources.contains(target) else {
            throw AdminError("--to \(target) is also a queue being moved from", exitCode: ExitStatus.usage)
        }
        return try await transfer(.move, queues: sources, options: options, now: now, progress: progress, checkTarget: target) { message in
            .success((target, message.movedProperties))
        }
    }

    /// Removes the matching messages for good (acknowledged without a copy),
    /// putting the rest back: the purge of one group or one message, where
    /// `dlq purge` empties whole queues. Same reading and counting as replay,
    /// so a dry run says exactly which messages a run would remove.
    public func purgeMatching(
        queues selected: [String] = [], options: TransferOptions, now: Date = Date(),
        progress: (@Sendable (TransferProgress) -> Void)? = nil
    ) async throws -> TransferResult {
        try await transfer(.purge, queues: try queues(selected), options: options, now: now, progress: progress) { _ in .discard }
    }

    enum Plan {
        case success((target: String, properties: AMQPProperties))
        case failure(String)
        /// Acknowledge it without publishing anything.
        case discard
    }

    private func transfer(
        _ action: TransferResult.Action, queues: [String], options: TransferOptions, now: Date,
        progress: (@Sendable (TransferProgress) -> Void)?, checkTarget: String? = nil,
        plan: @escaping (DeadLetterMessage) -> Plan
    ) async throws -> TransferResult {
        let verb = switch action {
        case .replay: "replaying"
        case .move: "moving"
        case .purge: "purging"
        }
        return try await withConnection(verb) { connection in
            var result = TransferResult(action: action, dryRun: options.dryRun, filter: options.filter)
            var doing = "connecting"
            do {
                if let checkTarget {
                    doing = "checking --to \(checkTarget)"
                    _ = try await depth(of: checkTarget, on: connection)
                }
                doing = "reading the queue depths"
                let depths = try await depths(of: queues, on: connection)
                var run = TransferRun(
                    options: options, now: now, user: connection.configuration.user,
                    total: depths.reduce(0) { $0 + min($1.depth, scanLimit) }, progress: progress, plan: plan,
                    publisher: try await connection.openConfirmChannel(), result: result)
                defer { result = run.result }
                for (queue, queueDepth) in depths {
                    doing = "\(verb) from \(queue)"
                    // Only the messages there at the start (a message dead-lettered again during the run waits for the next one).
                    try await run.drain(queue, budget: min(queueDepth, scanLimit), depth: queueDepth, on: connection)
                }
                await run.publisher.close()
            } catch {
                throw failure(
                    error, doing,
                    detail: "so far \(result.summary); messages not yet acknowledged stay in their queue (the broker puts them back): run it again")
            }
            return result
        }
    }
}

/// One replay or move: what it has done so far, and its steps per queue,
/// per message and per published batch.
private struct TransferRun {
    let options: TransferOptions
    let now: Date
    /// The connection's user: a copy whose `user_id` differs would close the channel.
    let user: String
    /// Messages to look at over every queue, for the progress report.
    let total: Int
    let progress: (@Sendable (TransferProgress) -> Void)?
    let plan: (DeadLetterMessage) -> DeadLetterAdmin.Plan
    let publisher: AMQPChannel
    var result: TransferResult
    /// Matching messages handled (transferred or failed), for `options.limit`.
    private var handled = 0
    private var pacer: Pacer

    init(
        options: TransferOptions, now: Date, user: String, total: Int, progress: (@Sendable (TransferProgress) -> Void)?,
        plan: @escaping (DeadLetterMessage) -> DeadLetterAdmin.Plan, publisher: AMQPChannel, result: TransferResult
    ) {
        self.options = options
        self.now = now
        self.user = user
        self.total = total
        self.progress = progress
        self.plan = plan
        self.publisher = publisher
        self.result = result
        pacer = Pacer(rate: options.rate)
    }

    private struct Pending: Sendable {
        let message: DeadLetterMessage
        let target: String
        let properties: AMQPProperties
    }

    private enum Outcome: Sendable {
        case done
        /// The broker did not take the copy (returned, nacked): the message stays.
        case refused(AMQPError)
        /// The channel or connection died: stop.
        case broken(any Error, confirmed: Bool)
    }

    /// Takes up to `budget` messages from `queue`, transfers the matching ones
    /// in batches of `options.window`, and puts the rest back.
    mutating func drain(_ queue: String, budget: Int, depth: Int, on connection: AMQPConnection) async throws {
        var reader = try await QueueReader(queue: queue, on: connection)
        var batch: [Pending] = []
        while reader.taken < budget, options.limit.map({ handled < $0 }) ?? true, let message = try await reader.take() {
            switch decide(message, from: queue) {
            case .publish(let pending):
                batch.append(pending)
                if batch.count >= options.window { try await flush(&batch, from: queue, reader: &reader) }
            case .discard:
                try await reader.ack(message.delivery.deliveryTag)
                transferred(to: queue)
            case .counted:
                break
            }
            if reader.taken % 50 == 0 { report(reader) }
        }
        try await flush(&batch, from: queue, reader: &reader)
        report(reader)  // (before this queue joins result.sources, which report() adds up)
        result.sources.append((queue, depth, reader.taken))
        try await reader.requeueRest()
    }

    private enum Decision {
        case publish(Pending)
        /// Acknowledge it now: it leaves the queue with no copy (a purge).
        case discard
        /// Counted here: skipped by the filter, failed by the plan or the user check, or done in a dry run.
        case counted
    }

    private mutating func decide(_ message: DeadLetterMessage, from queue: String) -> Decision {
        guard options.filter.matches(message, now: now) else {
            result.skipped += 1
            return .counted
        }
        handled += 1
        switch plan(message) {
        case .failure(let reason):
            fail(message, from: queue, reason)
            return .counted
        case .discard:
            guard !options.dryRun else {
                transferred(to: queue)
                return .counted
            }
            return .discard
        case .success(let (target, properties)):
            if let owner = properties.userID, owner != user {
                // The broker closes the channel when user_id is not the connection's user.
                fail(message, from: queue, "user_id '\(owner)' is not the connecting user '\(user)'")
                return .counted
            }
            guard !options.dryRun else {
                transferred(to: target)
                return .counted
            }
            return .publish(Pending(message: message, target: target, properties: properties))
        }
    }

    /// Publishes the batch, counts each outcome, and stops the run (throws) if the channel broke.
    private mutating func flush(_ batch: inout [Pending], from queue: String, reader: inout QueueReader) async throws {
        guard !batch.isEmpty else { return }
        let outcomes = try await Self.publish(batch, publisher: publisher, ackOn: reader.channel, pacer: &pacer)
        var broken: (any Error)?
        for (pending, outcome) in zip(batch, outcomes) {
            switch outcome {
            case .done:
                reader.acknowledged(pending.message.delivery.deliveryTag)
                transferred(to: pending.target)
            case .refused(let error):
                fail(pending.message, from: queue, "\(pending.target): \(error)")
            case .broken(let error, let confirmed):
                if confirmed { transferred(to: pending.target) }
                broken = broken ?? error
            }
        }
        batch.removeAll()
        report(reader)
        if let broken { throw broken }
    }

    private mutating func transferred(to target: String) {
        result.transferred += 1
        result.targets[target, default: 0] += 1
    }

    private mutating func fail(_ message: DeadLetterMessage, from queue: String, _ error: String) {
        result.failed += 1
        result.failures.append(.init(queue: queue, messageID: message.messageID, error: error))
    }

    private func report(_ reader: QueueReader) {
        let scannedBefore = result.sources.reduce(0) { $0 + $1.scanned }
        progress?(TransferProgress(scanned: scannedBefore + reader.taken, total: total, transferred: result.transferred, failed: result.failed))
    }

    /// Publishes a batch concurrently (each with confirm and mandatory) and
    /// acknowledges each source message as soon as its copy is confirmed.
    private static func publish(
        _ batch: [Pending], publisher: AMQPChannel, ackOn source: AMQPChannel, pacer: inout Pacer
    ) async throws -> [Outcome] {
        try await withThrowingTaskGroup(of: (Int, Outcome).self) { group in
            for (index, pending) in batch.enumerated() {
                if let wait = pacer.delay() { try await Task.sleep(for: wait) }
                group.addTask { await publishAndAck(pending, publisher: publisher, ackOn: source, index: index) }
            }
            var outcomes = [Outcome](repeating: .done, count: batch.count)
            for try await (index, outcome) in group { outcomes[index] = outcome }
            return outcomes
        }
    }

    private static func publishAndAck(_ pending: Pending, publisher: AMQPChannel, ackOn source: AMQPChannel, index: Int) async -> (Int, Outcome) {
        do {
            try await publisher.publish(pending.message.delivery.body, routingKey: pending.target, mandatory: true, properties: pending.properties)
        } catch let error as AMQPError where !error.isChannelDead {
            return (index, .refused(error))
        } catch {
            return (index, .broken(error, confirmed: false))
        }
        do {
            try await source.ack(pending.message.delivery.deliveryTag)
        } catch {
            return (index, .broken(error, confirmed: true))
        }
        return (index, .done)
    }
}

/// Spaces publishes out to at most `rate` per second.
struct Pacer {
    let interval: Duration?
    private var nextSlot: ContinuousClock.Instant?

    init(rate: Double?) {
        interval = rate.flatMap { $0 > 0 ? Duration.seconds(1 / $0) : nil }
    }

    /// How long to wait before the next publish (nil: go).
    mutating func delay() -> Duration? {
        guard let interval else { return nil }
        let now = ContinuousClock.now
        let slot = max(nextSlot ?? now, now)
        nextSlot = slot + interval
        return slot > now ? slot - now : nil
    }
}
