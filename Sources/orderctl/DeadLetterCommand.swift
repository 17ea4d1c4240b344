import Admin
import ArgumentParser
import Foundation
import Synchronization

struct DeadLetterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlq",
        abstract: "Inspect, replay, move, purge, export and import dead-lettered messages.",
        discussion: """
            By default every command works on every dead-letter queue of the topology (orders_dlq, vendor_sync_dlq); \
            --queue picks queues by their full name.

            AMQP cannot look at a queue without taking messages out of it: list, peek and stats (and replay, move and \
            export, for what they leave behind) take each message with basic.get, hold it unacknowledged, and put it \
            back with basic.nack/requeue. Messages read this way are marked redelivered (quorum queues also raise \
            x-delivery-count, until RabbitMQ 4.3) and are invisible to other readers while held; if orderctl dies, the \
            broker puts them back by itself. The DLQs are declared with a delivery limit no reading reaches, so \
            reading never drops a message. Depths are always the broker's own count (queue.declare, passive).

            replay, move and export given --reason, --older-than, --message-id or --containing exit 1 when no message matched.
            """,
        subcommands: [List.self, Peek.self, Stats.self, Replay.self, Move.self, Purge.self, Export.self, Import.self]
    )

    struct Options: ParsableArguments {
        @OptionGroup var broker: BrokerOptions
        @OptionGroup var output: OutputOptions

        @Option(name: .customLong("queue"), help: "A queue to work on, by its full name (repeatable; default: every DLQ of the topology).")
        var queues: [String] = []

        @OptionGroup var topology: TopologyOptions

        @Option(name: .customLong("scan-limit"), help: "Most messages read from one queue.")
        var scanLimit: Int = DeadLetterAdmin.defaultScanLimit

        func validate() throws {
            guard scanLimit > 0 else { throw ValidationError("--scan-limit must be at least 1") }
        }

        var admin: DeadLetterAdmin {
            get throws { DeadLetterAdmin(amqpURL: broker.amqpURL, topology: try topology.topology, scanLimit: scanLimit) }
        }
    }

    /// Finding a message, or the batch that holds a movement, for peek, replay, move and export.
    struct Search: ParsableArguments {
        @Option(
            name: .customLong("message-id"),
            help: "Only the message with this message_id, or the vendor_sync batch holding the movement with this id (repeatable).")
        var messageIDs: [String] = []

        @Option(help: "Only messages whose body, message_id or correlation_id contains this text (an order, movement or product id), ignoring case.")
        var containing: String?
    }

    /// Which messages replay, move and export take.
    struct Filters: ParsableArguments {
        @Option(name: .customLong("reason"), help: "Only messages with this failure reason, e.g. database-unavailable (repeatable).")
        var reasons: [String] = []

        @Option(
            name: .customLong("older-than"), help: "Only messages that failed at least this long ago: 90s, 10m, 2h, 1d, 1h30m.",
            transform: Filters.duration)
        var olderThan: TimeInterval?

        @OptionGroup var search: Search

        @Option(help: "Take at most this many matching messages.")
        var limit: Int?

        func validate() throws {
            if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        }

        var filter: DeadLetterFilter {
            DeadLetterFilter(reasons: Set(reasons), olderThan: olderThan, messageIDs: Set(search.messageIDs), containing: search.containing)
        }

        /// How replay and move run: these filters with the flags they share.
        func transferOptions(_ flags: TransferFlags) -> TransferOptions {
            TransferOptions(filter: filter, limit: limit, dryRun: flags.dryRun, rate: flags.rate)
        }

        static func duration(_ text: String) throws -> TimeInterval {
            guard let seconds = DurationText.parse(text) else {
                throw ValidationError("'\(text)' is not a duration (examples: 90s, 10m, 2h, 1d, 1h30m)")
            }
            return seconds
        }
    }

    /// Options replay and move share.
    struct TransferFlags: ParsableArguments {
        @Flag(name: .customLong("dry-run"), help: "Say what would be done; publish and remove nothing.")
        var dryRun = false

        @Option(help: "Publish at most this many messages per second.")
        var rate: Double?

        func validate() throws {
            if let rate, !(rate > 0) { throw ValidationError("--rate must be more than 0") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "For every DLQ: depth, the vendor movements its messages carry, oldest message age and counts per failure reason.",
            discussion: "Takes every message (up to --scan-limit) with basic.get and puts it back: they are marked redelivered.")
        @OptionGroup var options: Options

        func run() async throws {
            try await runReporting(options.output.format) { print(try await options.admin.list(queues: options.queues).render(options.output.format)) }
        }
    }

    struct Peek: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the first messages of each DLQ: every property and header, x-death decoded, the body.",
            discussion: """
                The body is shown as indented JSON when it is JSON, as text when it is UTF-8 text, else base64; a \
                vendor_sync batch also lists its movements (vendor, kind, order, product, quantity, movement id). \
                --message-id and --containing find the batch that holds a movement or an order. Peeking over AMQP takes the messages (basic.get) and puts them back: they are marked redelivered.
                """)
        @OptionGroup var options: Options
        @Option(name: .short, help: "How many messages per queue.") var n: Int = 5
        @OptionGroup var search: Search

        func validate() throws {
            guard n >= 1 else { throw ValidationError("-n must be at least 1") }
        }

        func run() async throws {
            try await runReporting(options.output.format) { print(try await options.admin.peek(
                        queues: options.queues, count: n, filter: DeadLetterFilter(messageIDs: Set(search.messageIDs), containing: search.containing)).render(options.output.format)) }
        }
    }

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Count dead-lettered messages by failure reason, age or queue.",
            discussion: "Takes every message (up to --scan-limit) with basic.get and puts it back: they are marked redelivered.")
        @OptionGroup var options: Options
        @Option(name: .customLong("group-by"), help: "reason, age or queue.") var groupBy: DeadLetterAdmin.Grouping = .reason

        func run() async throws {
            try await runReporting(options.output.format) {
                print(try await options.admin.stats(queues: options.queues, groupBy: groupBy).render(options.output.format))
            }
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send dead-lettered messages back to the queue they failed in.",
            discussion: """
                The target is the message's x-original-queue header, else the queue in x-death, else the main queue of \
                the DLQ's queue set. The copy keeps the body and every property (message_id, correlation_id, type, …); \
                x-retry-count is reset to 0, the x-error-* headers and the broker's x-death / x-first-death-* / \
                x-last-death-* / x-delivery-count are removed, and x-replay-count / x-replayed-at are added.

                Each copy is published with mandatory on a confirm channel, and the DLQ message is acknowledged only \
                after the broker confirmed the copy: stopping orderctl or losing the broker at any point loses nothing \
                (at worst a message is in both queues; the workers apply it once). Messages that do not match the \
                filters, or cannot be published, are put back (marked redelivered). Only the messages present when the \
                command starts are considered. The last line counts replayed / skipped / failed; the exit status is 1 \
                when any failed.
                """)
        @OptionGroup var options: Options
        @OptionGroup var filters: Filters
        @OptionGroup var flags: TransferFlags
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await runTransfer(verb: "replaying", options: options, audit: database) { progress in
                try await options.admin.replay(queues: options.queues, options: filters.transferOptions(flags), progress: progress)
            }
        }
    }

    struct Move: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move dead-lettered messages to another (existing) queue.",
            discussion: """
                Same safety as replay: publish with mandatory and confirm, acknowledge the source message only after \
                the confirm. The failure headers are kept (what only x-death said is copied into x-error-reason / \
                x-original-queue / x-failed-at first) and the broker's dead-letter headers are removed. The target \
                queue must exist.
                """)
        @OptionGroup var options: Options
        @OptionGroup var filters: Filters
        @OptionGroup var flags: TransferFlags
        @Option(name: .customLong("to"), help: "The queue to move the messages to (full name).") var target: String
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await runTransfer(verb: "moving", options: options, audit: database) { progress in
                try await options.admin.move(queues: options.queues, to: target, options: filters.transferOptions(flags), progress: progress)
            }
        }
    }

    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete every message of the DLQs (or of --queue).",
            discussion: """
                Prints the count and asks for confirmation on a terminal. Scripts pass --yes, and --expect-count N to \
                purge only when the queues hold exactly N messages. Without --yes, it refuses (exit 1) when standard \
                input is not a terminal. To keep a copy first, use dlq export.
                """)
        @OptionGroup var options: Options
        @Flag(help: "Do not ask.") var yes = false
        @Option(name: .customLong("expect-count"), help: "Refuse unless the queues hold exactly this many messages.") var expectCount: Int?
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await runReporting(options.output.format) {
                let result = try await options.admin.purge(queues: options.queues, expectCount: expectCount) { plan in
                    if yes { return true }
                    guard isatty(STDIN_FILENO) == 1 else {
                        throw AdminError("refusing to purge \(plan.description) without --yes: standard input is not a terminal")
                    }
                    FileHandle.standardError.write(Data("Purge \(plan.description)? This cannot be undone. Type yes to purge: ".utf8))
                    return readLine()?.trimmingCharacters(in: .whitespaces).lowercased() == "yes"
                }
                print(result.render(options.output.format))
                if result.total > 0 {
                    let queues = result.purged.filter { $0.count > 0 }.map(\.queue)
                    audit(
                        AuditEntry(
                            who: AuditEntry.orderctlUser(), action: "dlq.purge", target: "\(queues.joined(separator: ",")): every message",
                            count: result.total, detail: "purged \(result.total)"),
                        in: database)
                }
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write dead-lettered messages to a JSON Lines file, losslessly.",
            discussion: """
                One JSON object per message: every property, headers with their AMQP types \
                ({"type":"int64","value":3}), the body in base64. The file is written and fsynced before anything \
                leaves a queue; messages are removed only with --remove (acknowledged after the fsync), otherwise they \
                are put back (marked redelivered).
                """)
        @OptionGroup var options: Options
        @OptionGroup var filters: Filters
        @Option(name: .customLong("file"), help: "The file to write.") var file: String
        @Flag(help: "Remove the exported messages from the queue (after the file is fsynced).") var remove = false
        @Flag(help: "Overwrite the file when it exists.") var force = false

        func run() async throws {
            try await runReporting(options.output.format) {
                let result = try await options.admin.export(
                    queues: options.queues, to: URL(fileURLWithPath: file), filter: filters.filter, limit: filters.limit, remove: remove,
                    overwrite: force)
                print(result.render(options.output.format))
                try refuseUnmatched(result.unmatchedFilter)
            }
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Publish the messages of a dlq export file back, exactly as they were.",
            discussion: """
                Every line is checked before anything is published. Each message goes, with confirm and mandatory, to \
                --to or else to the queue it was exported from; the target queues must exist. Properties, typed \
                headers (x-death included) and body are republished unchanged, so import into a DLQ and use dlq replay \
                to send messages back to work. Importing a file twice publishes its messages twice.
                """)
        @OptionGroup var broker: BrokerOptions
        @OptionGroup var output: OutputOptions
        @Option(name: .customLong("file"), help: "A file written by dlq export.") var file: String
        @Option(name: .customLong("to"), help: "Publish every message to this queue (full name).") var target: String?
        @Flag(name: .customLong("dry-run"), help: "Check the file and the queues; publish nothing.") var dryRun = false

        func run() async throws {
            try await runReporting(output.format) {
                let result = try await DeadLetterAdmin(amqpURL: broker.amqpURL).importMessages(
                    from: URL(fileURLWithPath: file), to: target, dryRun: dryRun)
                print(result.render(output.format))
                if !result.failures.isEmpty { throw ExitCode(ExitStatus.failure) }
            }
        }
    }
}

extension DeadLetterAdmin.Grouping: ExpressibleByArgument {}

/// Runs a replay or move with a progress bar (on a terminal), prints its
/// result, and exits 1 when any message failed.
func runTransfer(
    verb: String, options: DeadLetterCommand.Options, audit database: DatabaseOptions,
    _ transfer: (_ progress: (@Sendable (TransferProgress) -> Void)?) async throws -> TransferResult
) async throws {
    try await runReporting(options.output.format) {
        let bar = ProgressBar(verb: verb)
        let result: TransferResult
        do {
            // The bar's line ends also when the transfer throws, so the error starts a line of its own.
            defer { bar?.finish() }
            result = try await transfer(bar?.update)
        }
        print(result.render(options.output.format))
        let queues = result.sources.map(\.queue)
        if let entry = AuditEntry.of(result, who: AuditEntry.orderctlUser(), queues: queues) { audit(entry, in: database) }
        try refuseUnmatched(result.unmatchedFilter)
        if result.failed > 0 { throw ExitCode(ExitStatus.failure) }
    }
}

/// Appends a row to the audit log; the action is done, so a log that cannot
/// be written is a warning on standard error, not a failure of the command.
func audit(_ entry: AuditEntry, in database: DatabaseOptions) {
    if let problem = AuditAdmin(databaseURL: database.databaseURL).append(entry) {
        FileHandle.standardError.write(Data("orderctl: warning: \(problem)\n".utf8))
    }
}

/// Exits 1 with the result's own words when filters were given and matched
/// nothing (the result, already printed, says so too): a script that names a
/// message that is not there learns it from the exit status.
func refuseUnmatched(_ unmatchedFilter: String?) throws {
    guard let unmatchedFilter else { return }
    FileHandle.standardError.write(Data("orderctl: \(unmatchedFilter)\n".utf8))
    throw ExitCode(ExitStatus.failure)
}

/// A one-line progress bar on standard error, only when it is a terminal.
final class ProgressBar: Sendable {
    private let verb: String
    private let lastDrawn = Mutex<ContinuousClock.Instant?>(nil)

    init?(verb: String) {
        guard isatty(STDERR_FILENO) == 1 else { return nil }
        self.verb = verb
    }

    @Sendable func update(_ progress: TransferProgress) {
        let now = ContinuousClock.now
        let draw = lastDrawn.withLock { last in
            guard last.map({ now - $0 >= .milliseconds(100) }) ?? true || progress.scanned == progress.total else { return false }
            last = now
            return true
        }
        guard draw else { return }
        let width = 30
        let filled = progress.total == 0 ? width : min(width, progress.scanned * width / progress.total)
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let line = "\r\(verb) [\(bar)] \(progress.scanned)/\(progress.total) read, \(progress.transferred) done, \(progress.failed) failed"
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() {
        FileHandle.standardError.write(Data("\n".utf8))
    }
}
