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

    enum Plan {
        case success((target: String, properties: AMQPProperties))
        case failure(String)
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

    private func transfer(
        _ action: TransferResult.Action, queues: [String], options: TransferOptions, now: Date,
        progress: (@Sendable (TransferProgress) -> Void)?, checkTarget: String? = nil,
        plan: (DeadLetterMessage) -> Plan
    ) async throws -> TransferResult {
        try await withConnection(action == .replay ? "replaying" : "moving") { connection in
            var result = TransferResult(action: action, dryRun: options.dryRun, filter: options.filter)
            let user = connection.configuration.user
            var doing = "connecting"
            do {
                if let checkTarget {
                    doing = "checking --to \(checkTarget)"
                    _ = try await depth(of: checkTarget, on: connection)
                }
                doing = "reading the queue depths"
                let depths = try await depths(of: queues, on: connection)
                let total = depths.reduce(0) { $0 + min($1.depth, scanLimit) }
                let publisher = try await connection.openConfirmChannel()
                var pacer = Pacer(rate: options.rate)
                var handled = 0
                for (queue, queueDepth) in depths {
                    // Only the messages there at the start (a message dead-lettered again during the run waits for the next one).
                    let budget = min(queueDepth, scanLimit)
                    doing = "\(action == .replay ? "replaying" : "moving") from \(queue)"
                    var reader = try await QueueReader(queue: queue, on: connection)
                    var batch: [Pending] = []
                    func report() {
                        let scannedBefore = result.sources.reduce(0) { $0 + $1.scanned }
                        progress?(TransferProgress(scanned: scannedBefore + reader.taken, total: total, transferred: result.transferred, failed: result.failed))
                    }
                    func flush() async throws {
                        guard !batch.isEmpty else { return }
                        let outcomes = try await publish(batch, publisher: publisher, ackOn: reader.channel, pacer: &pacer)
                        var broken: (any Error)?
                        for (pending, outcome) in zip(batch, outcomes) {
                            switch outcome {
                            case .done:
                                reader.acknowledged(pending.message.delivery.deliveryTag)
                                result.transferred += 1
                                result.targets[pending.target, default: 0] += 1
                            case .refused(let error):
                                result.failed += 1
                                result.failures.append(.init(queue: queue, messageID: pending.message.messageID, error: "\(pending.target): \(error)"))
                            case .broken(let error, let confirmed):
                                if confirmed { result.transferred += 1; result.targets[pending.target, default: 0] += 1 }
                                broken = broken ?? error
                            }
                        }
                        batch.removeAll()
                        report()
                        if let broken { throw broken }
                    }
                    while reader.taken < budget, options.limit.map({ handled < $0 }) ?? true, let message = try await reader.take() {
                        guard options.filter.matches(message, now: now) else {
                            result.skipped += 1
                            continue
                        }
                        handled += 1
                        switch plan(message) {
                        case .failure(let reason):
                            result.failed += 1
                            result.failures.append(.init(queue: queue, messageID: message.messageID, error: reason))
                        case .success(let (target, properties)):
                            if let owner = properties.userID, owner != user {
                                // The broker closes the channel when user_id is not the connection's user.
                                result.failed += 1
                                result.failures.append(
                                    .init(queue: queue, messageID: message.messageID, error: "user_id '\(owner)' is not the connecting user '\(user)'"))
                            } else if options.dryRun {
                                result.transferred += 1
                                result.targets[target, default: 0] += 1
                            } else {
                                batch.append(Pending(message: message, target: target, properties: properties))
                                if batch.count >= options.window { try await flush() }
                            }
                        }
                        if reader.taken % 50 == 0 { report() }
                    }
                    try await flush()
                    report()  // (before this queue joins result.sources, which report() adds up)
                    result.sources.append((queue, queueDepth, reader.taken))
                    try await reader.requeueRest()
                }
                await publisher.close()
            } catch {
                throw failure(
                    error, doing,
                    detail: "so far \(result.summary); messages not yet acknowledged stay in their queue (the broker puts them back): run it again")
            }
            return result
        }
    }

    /// Publishes a batch concurrently (each with confirm and mandatory) and
    /// acknowledges each source message as soon as its copy is confirmed.
    private func publish(
        _ batch: [Pending], publisher: AMQPChannel, ackOn source: AMQPChannel, pacer: inout Pacer
    ) async throws -> [Outcome] {
        try await withThrowingTaskGroup(of: (Int, Outcome).self) { group in
            for (index, pending) in batch.enumerated() {
                if let wait = pacer.delay() { try await Task.sleep(for: wait) }
                group.addTask {
                    do {
                        try await publisher.publish(
                            pending.message.delivery.body, routingKey: pending.target, mandatory: true, properties: pending.properties)
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
            var outcomes = [Outcome](repeating: .done, count: batch.count)
            for try await (index, outcome) in group { outcomes[index] = outcome }
            return outcomes
        }
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
