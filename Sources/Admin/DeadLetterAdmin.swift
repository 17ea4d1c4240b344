import AMQP
import Foundation
import Topology

/// `orderctl dlq …`: inspect, replay, move, purge, export and import the
/// messages in dead-letter queues.
///
/// AMQP has no way to look at a queue without taking messages: every command
/// that reads contents takes them with `basic.get` (no auto-ack), holds them
/// unacknowledged while it works, and then either acknowledges the ones it
/// is done with (after a publisher confirm, or after an fsync) or puts the
/// rest back (`basic.nack` with requeue). Held messages are invisible to
/// other readers meanwhile; if orderctl dies, the broker puts them back by
/// itself. Requeued messages are marked redelivered (quorum queues also add
/// `x-delivery-count`). Depths always come from the broker
/// (`queue.declare` passive), never from counting what was read.
public struct DeadLetterAdmin: Sendable, BrokerAdmin {
    public let amqpURL: String
    public let topology: Topology
    /// Most messages one command reads from one queue.
    public let scanLimit: Int

    public static let defaultScanLimit = 10_000

    /// Printed with every command that reads messages.
    public static let readingNote =
        "Reading a queue over AMQP takes each message (basic.get) and puts it back (nack with requeue): "
        + "messages read are marked redelivered (quorum queues also count x-delivery-count). Depths are the broker's own count."

    public init(amqpURL: String, topology: Topology = .standard, scanLimit: Int = DeadLetterAdmin.defaultScanLimit) {
        self.amqpURL = amqpURL
        self.topology = topology
        self.scanLimit = max(1, scanLimit)
    }

    /// The queues a command works on: the ones named, or every DLQ of the topology.
    /// A main or retry queue of the topology is refused: workers consume it, and
    /// every read and requeue would count against its delivery limit.
    public func queues(_ selected: [String]) throws -> [String] {
        for queue in selected {
            if let set = topology.queueSet(containing: queue), queue != set.deadLetter {
                throw AdminError("\(queue) is a work queue, not a dead-letter queue (its DLQ is \(set.deadLetter))", exitCode: ExitStatus.usage)
            }
        }
        return selected.isEmpty ? topology.deadLetterQueues : selected
    }

    /// The queue's depth from the broker (passive declare on a channel of its own, since a 404 closes the channel).
    func depth(of queue: String, on connection: AMQPConnection) async throws -> Int {
        let channel = try await connection.openChannel()
        do {
            let depth = Int(try await channel.declareQueue(queue, passive: true).messageCount)
            await channel.close()
            return depth
        } catch let error as AMQPError where error.replyCode == .notFound {
            throw AdminError("queue '\(queue)' does not exist")
        } catch {
            await channel.close()
            throw error
        }
    }

    /// Each queue's depth from the broker, in the order given.
    func depths(of queues: [String], on connection: AMQPConnection) async throws -> [(queue: String, depth: Int)] {
        var depths: [(queue: String, depth: Int)] = []
        for queue in queues { depths.append((queue, try await depth(of: queue, on: connection))) }
        return depths
    }

    // MARK: Reading without removing

    /// What was read from one queue.
    struct QueueRead {
        let queue: String
        let depth: Int
        let messages: [DeadLetterMessage]
    }

    /// Takes up to `limit` messages matching `filter` from each queue (reading
    /// at most `scanLimit`, or `limit` when more), then puts them all back.
    func read(
        _ queues: [String], limit: Int, filter: DeadLetterFilter = .all, now: Date = Date(), on connection: AMQPConnection
    ) async throws -> [QueueRead] {
        var reads: [QueueRead] = []
        for queue in queues {
            let depth = try await depth(of: queue, on: connection)
            var reader = try await QueueReader(queue: queue, on: connection)
            var messages: [DeadLetterMessage] = []
            while reader.taken < min(depth, max(limit, scanLimit)), messages.count < limit, let message = try await reader.take() {
                if filter.matches(message, now: now) { messages.append(message) }
            }
            try await reader.requeueRest()
            reads.append(QueueRead(queue: queue, depth: depth, messages: messages))
        }
        return reads
    }

    /// `dlq list`: for each queue its depth, the oldest message's age and the count per failure reason.
    public func list(queues selected: [String] = [], now: Date = Date()) async throws -> DeadLetterListing {
        let sources = try queues(selected)
        let reads = try await withConnection("reading the dead-letter queues") { try await read(sources, limit: scanLimit, on: $0) }
        return DeadLetterListing(
            queues: reads.map { read in
                var reasons: [String: Int] = [:]
                for message in read.messages { reasons[message.reason, default: 0] += 1 }
                let oldest = read.messages.compactMap { $0.age(at: now) }.max()
                return DeadLetterListing.Queue(
                    queue: read.queue, depth: read.depth, scanned: read.messages.count, oldestAge: oldest, reasons: reasons,
                    movements: read.messages.reduce(0) { $0 + $1.movements.count })
            },
            scanLimit: scanLimit)
    }

    /// `dlq peek`: the first `count` messages of each queue (matching `filter`), every property and header decoded.
    public func peek(queues selected: [String] = [], count: Int, filter: DeadLetterFilter = .all, now: Date = Date()) async throws -> DeadLetterPeek {
        let sources = try queues(selected)
        let reads = try await withConnection("peeking at the dead-letter queues") {
            try await read(sources, limit: max(0, count), filter: filter, now: now, on: $0)
        }
        return DeadLetterPeek(queues: reads.map { .init(queue: $0.queue, depth: $0.depth, messages: $0.messages) }, now: now)
    }

    public enum Grouping: String, CaseIterable, Sendable {
        case reason, age, queue
    }

    /// `dlq stats`: counts grouped by failure reason, age bucket or queue.
    public func stats(queues selected: [String] = [], groupBy grouping: Grouping, now: Date = Date()) async throws -> DeadLetterStats {
        let sources = try queues(selected)
        let reads = try await withConnection("reading the dead-letter queues") { try await read(sources, limit: scanLimit, on: $0) }
        var groups: [String: (count: Int, oldest: TimeInterval?)] = [:]
        for read in reads {
            if grouping == .queue { groups[read.queue] = groups[read.queue] ?? (0, nil) }
            for message in read.messages {
                let age = message.age(at: now)
                let key: String
                switch grouping {
                case .reason: key = message.reason
                case .queue: key = read.queue
                case .age: key = DeadLetterStats.ageBucket(age)
                }
                var entry = groups[key] ?? (0, nil)
                entry.count += 1
                if let age { entry.oldest = max(entry.oldest ?? 0, age) }
                groups[key] = entry
            }
        }
        let order: (String, String) -> Bool =
            grouping == .age
            ? { DeadLetterStats.bucketOrder($0) < DeadLetterStats.bucketOrder($1) }
            : { (groups[$0]!.count, $1) > (groups[$1]!.count, $0) }
        return DeadLetterStats(
            grouping: grouping,
            groups: groups.keys.sorted(by: order).map { .init(key: $0, count: groups[$0]!.count, oldestAge: groups[$0]!.oldest) },
            queues: reads.map { .init(queue: $0.queue, depth: $0.depth, scanned: $0.messages.count) }, scanLimit: scanLimit)
    }
}

/// Takes messages from one queue with `basic.get` and holds them
/// unacknowledged until they are acked (done with) or put back.
struct QueueReader {
    let queue: String
    let channel: AMQPChannel
    private(set) var taken = 0
    private var outstanding: Set<UInt64> = []

    init(queue: String, on connection: AMQPConnection) async throws {
        self.queue = queue
        channel = try await connection.openChannel()
    }

    mutating func take() async throws -> DeadLetterMessage? {
        guard let delivery = try await channel.get(queue: queue, noAck: false) else { return nil }
        taken += 1
        outstanding.insert(delivery.deliveryTag)
        return DeadLetterMessage(queue: queue, delivery: delivery)
    }

    /// Records that a message was acknowledged elsewhere (by a publishing task).
    mutating func acknowledged(_ tag: UInt64) { outstanding.remove(tag) }

    mutating func ack(_ tag: UInt64) async throws {
        try await channel.ack(tag)
        outstanding.remove(tag)
    }

    /// Puts back every message taken and not acknowledged, then closes the channel.
    mutating func requeueRest() async throws {
        if let last = outstanding.max() {
            try await channel.nack(last, multiple: true, requeue: true)
            outstanding.removeAll()
        }
        await channel.close()
    }
}
