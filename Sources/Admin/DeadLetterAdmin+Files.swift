import AMQP
import Foundation

extension DeadLetterAdmin {
    // MARK: Purge

    /// `dlq purge`: counts what is there, refuses unless the count is what
    /// `expectCount` says (when given) and `confirm` agrees, then purges.
    /// `confirm` is where the CLI asks on a terminal (or refuses off one).
    public func purge(
        queues selected: [String] = [], expectCount: Int?, confirm: (PurgePlan) throws -> Bool
    ) async throws -> PurgeResult {
        let sources = try queues(selected)
        return try await withConnection("purging") { connection in
            let plan = try await depths(of: sources, on: connection)
            let purgePlan = PurgePlan(queues: plan)
            if let expectCount, expectCount != purgePlan.total {
                throw AdminError("refusing to purge: there are \(purgePlan.description), not \(expectCount) as --expect-count says; nothing was purged")
            }
            guard purgePlan.total > 0 else { return PurgeResult(purged: plan.map { ($0.queue, 0) }) }
            guard try confirm(purgePlan) else { throw AdminError("purge cancelled; nothing was purged") }
            let channel = try await connection.openChannel()
            var purged: [(queue: String, count: Int)] = []
            for (queue, _) in plan { purged.append((queue, Int(try await channel.purgeQueue(queue)))) }
            await channel.close()
            return PurgeResult(purged: purged)
        }
    }

    // MARK: Export

    /// `dlq export`: writes the matching messages to a JSON Lines file (one
    /// `ExportedMessage` per line), fsyncs it, and only then, with `remove`,
    /// acknowledges them (they leave the queue); otherwise, and for anything
    /// not exported, puts them back. A failure before the fsync removes the
    /// partial file and leaves every message in its queue.
    public func export(
        queues selected: [String] = [], to url: URL, filter: DeadLetterFilter = .all, limit: Int? = nil, remove: Bool = false,
        overwrite: Bool = false, now: Date = Date()
    ) async throws -> ExportResult {
        let selectedQueues = try queues(selected)
        let file = try DurableFile(url, overwrite: overwrite)
        var finished = false
        defer { if !finished { try? FileManager.default.removeItem(at: url) } }
        return try await withConnection("exporting to \(url.path)") { connection in
            var readers: [QueueReader] = []
            var exported: [(queue: String, tags: [UInt64])] = []
            var sources: [(queue: String, depth: Int, scanned: Int)] = []
            var skipped = 0
            var count = 0
            for queue in selectedQueues {
                let depth = try await depth(of: queue, on: connection)
                var reader = try await QueueReader(queue: queue, on: connection)
                var tags: [UInt64] = []
                while reader.taken < min(depth, scanLimit), limit.map({ count < $0 }) ?? true, let message = try await reader.take() {
                    guard filter.matches(message, now: now) else {
                        skipped += 1
                        continue
                    }
                    try file.write(JSONLines.line(ExportedMessage(queue: queue, delivery: message.delivery, exportedAt: now)))
                    tags.append(message.delivery.deliveryTag)
                    count += 1
                }
                readers.append(reader)
                exported.append((queue, tags))
                sources.append((queue, depth, reader.taken))
            }
            try file.finish()
            finished = true
            // The file is on disk: from here on, removing is safe.
            for index in readers.indices {
                if remove {
                    for tag in exported[index].tags { try await readers[index].ack(tag) }
                }
                try await readers[index].requeueRest()
            }
            return ExportResult(
                file: url.path, exported: exported.map { ($0.queue, $0.tags.count) }, removed: remove, skipped: skipped, sources: sources,
                filter: filter)
        }
    }

    // MARK: Import

    /// `dlq import`: publishes every message of an export file exactly as it
    /// was (properties, typed headers, body), with confirm and `mandatory`,
    /// to `target` or else to the queue each line was exported from. The
    /// whole file is checked before anything is published; every target
    /// must exist. Messages are published in file order, one confirm at a
    /// time. Importing the same file twice publishes its messages twice.
    public func importMessages(from url: URL, to target: String? = nil, dryRun: Bool = false) async throws -> ImportResult {
        let lines = try JSONLines.read(url)
        return try await withConnection("importing \(url.path)") { connection in
            let user = connection.configuration.user
            let targets = Set(lines.map { target ?? $0.message.queue })
            _ = try await depths(of: targets.sorted(), on: connection)
            var counts: [String: Int] = [:]
            var failures: [(line: Int, messageID: String?, error: String)] = []
            if dryRun {
                for line in lines { counts[target ?? line.message.queue, default: 0] += 1 }
                return ImportResult(file: url.path, imported: counts.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, failures: [], dryRun: true)
            }
            let publisher = try await connection.openConfirmChannel()
            do {
                for line in lines {
                    let queue = target ?? line.message.queue
                    let messageID = line.message.properties.messageId
                    if let owner = line.properties.userID, owner != user {
                        failures.append((line.line, messageID, "user_id '\(owner)' is not the connecting user '\(user)'"))
                        continue
                    }
                    do {
                        try await publisher.publish(line.body, routingKey: queue, mandatory: true, properties: line.properties)
                        counts[queue, default: 0] += 1
                    } catch let error as AMQPError where !error.isChannelDead {
                        failures.append((line.line, messageID, "\(queue): \(error)"))
                    }
                }
            } catch {
                let done = counts.values.reduce(0, +)
                throw failure(
                    error, "importing \(url.path)",
                    detail: "the first \(done + failures.count) of \(lines.count) messages were handled (\(done) imported), later ones may or may not be: "
                        + "importing the file again publishes the imported ones twice")
            }
            await publisher.close()
            return ImportResult(file: url.path, imported: counts.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, failures: failures, dryRun: false)
        }
    }
}
