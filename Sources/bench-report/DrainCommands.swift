import ArgumentParser
import BenchReport
import Foundation
import Postgres

/// The queue names of the run (BENCH_QUEUE_PREFIX).
enum BenchQueues {
    static var prefix: String { ProcessInfo.processInfo.environment["BENCH_QUEUE_PREFIX"] ?? "bench." }
    static var orders: String { prefix + "orders_queue" }
    static var vendorSync: String { prefix + "vendor_sync" }
    static var retry: String { prefix + "orders_retry_queue" }
    static var deadLetters: String { prefix + "orders_dlq" }
}

struct Drain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Waits until order-worker applied every order of a pre-filled queue (or the time limit), then records the drain.")
    @OptionGroup var record: RunOptions
    @OptionGroup var state: StateOptions
    @Option(help: "The (c) drain's name (uniform, hot), or a scaling row's dimension with --scale.") var name: String
    @Option(help: "The scaling row's value (phase s): the backlog, products, vendors or instances.") var scale: Int?
    @Option(help: "The orders' product-id prefix.") var prefix: String
    @Option var orders: Int
    @Option var timeout: Int
    @Option(help: "When the first worker was started (epoch seconds).") var started: Double
    @Option(name: .customLong("fill-log"), help: "bench-amqp fill's output.") var fillLog: String
    @Option(name: .customLong("worker"), help: "name=pid of an order-worker instance (repeatable).") var workers: [String]
    @Option(name: .customLong("broker-nodes"), help: "GET /api/nodes, saved with the backlog waiting.") var brokerNodes: String?
    @Option(name: .customLong("broker-queue"), help: "GET /api/queues/%2F/<orders queue>, saved with the backlog waiting.")
    var brokerQueue: String?

    func run() throws {
        let workers = try namedPIDs(self.workers)
        let mark = CPUAccount.sample(workers, rabbitPID: state.rabbitPID, postmasterPID: state.postmasterPID)
        let database = try BenchDatabase()
        defer { database.orders.close() }
        let deadline = started + Double(timeout)
        while try database.appliedCount(prefix: prefix) < orders, Date().timeIntervalSince1970 < deadline {
            Thread.sleep(forTimeInterval: 1)
        }
        let wall = Date().timeIntervalSince1970 - started
        let peaks = workers.map { ProcFS.peakResidentMegabytes(pid: $0.pid) ?? 0 }
        let cpu = CPUAccount.report(
            from: mark, to: CPUAccount.sample(workers, rabbitPID: state.rabbitPID, postmasterPID: state.postmasterPID),
            ticksPerSecond: ProcFS.ticksPerSecond, cores: ProcFS.cores)
        print("  cpu: \(cpu)")

        // The rate between the first and the last order's transaction (worker start-up excluded).
        let span = try database.orders.query("""
            SELECT count(*), extract(epoch FROM max(o.created_at) - min(o.created_at))::float8 FROM orders o
            JOIN order_lines l ON l.order_id = o.id WHERE l.product_id LIKE $1
            """, prefix + "%").singleRow()
        let applied = try span.decode(0, as: Int.self)
        let statuses = try database.orders.query("""
            SELECT o.status, count(*) FROM orders o JOIN order_lines l ON l.order_id = o.id
            WHERE l.product_id LIKE $1 GROUP BY 1 ORDER BY 1
            """, prefix + "%").rows.map { (try $0.decode(0, as: String.self), try $0.decode(1, as: Int.self)) }
        let rejected = statuses.first { $0.0 == "REJECTED" }?.1 ?? 0
        let drain = Figures.Drain(
            orders: orders, applied: applied,
            rate: Arithmetic.rate(count: applied, spanSeconds: try span.decode(1, as: Double?.self) ?? 0, wallSeconds: wall),
            wallSeconds: wall, timeoutSeconds: timeout,
            rejectedPercent: String(format: "%.2f", 100 * Double(rejected) / Double(max(applied, 1))),
            workerPeakMB: peaks, fillRate: KeyValues(try readText(fillLog)).text("rate"), cpu: cpu)
        let statusText = statuses.map { "\($0.0) \($0.1)" }.joined(separator: " ")
        print("  \(name)\(scale.map { " \($0)" } ?? ""): \(drain.rate) orders/s (\(drain.note)); statuses: \(statusText.isEmpty ? "none" : statusText); worker peak RSS \(peaks.map(String.init).joined(separator: " + ")) MB")

        let nodeMB = try brokerNodes.map { try Self.megabytes(of: readText($0), key: "mem_used") }
        let queueMB = try brokerQueue.map { try Self.megabytes(of: readText($0), key: "memory") }
        if let nodeMB { print("  RabbitMQ with the backlog waiting: node mem_used \(nodeMB.map(String.init) ?? "?") MB, orders queue \(queueMB.flatMap { $0 }.map(String.init) ?? "?") MB") }
        try record.update { figures in
            if let scale {
                figures.scaling.append(Figures.ScalingRow(
                    dimension: name, value: scale, drain: drain, brokerNodeMB: nodeMB.flatMap { $0 }, brokerQueueMB: queueMB.flatMap { $0 }, check: nil))
            } else {
                figures.drains[name] = drain
            }
        }
    }

    /// Bytes of `key` in a management API answer (an object, or the first of a list), in MB.
    static func megabytes(of json: String, key: String) throws -> Int? {
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8))
        let first = (object as? [[String: Any]])?.first ?? object as? [String: Any]
        guard let bytes = (first?[key] as? NSNumber)?.doubleValue else { return nil }
        return Int((bytes / 1_048_576).rounded())
    }
}

struct CheckApplied: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-applied",
        abstract: "Checks the last scaling row's drain: every order applied once, stock exact, nothing retried or dead-lettered.")
    @OptionGroup var record: RunOptions
    @Option(help: "The orders' product-id prefix.") var prefix: String
    @Option(help: "The stock each (product, vendor) row had before the drain.") var stock: Int
    @Option(help: "bench-amqp depth of the retry queue and the DLQ, saved.") var depths: String

    func run() throws {
        let database = try BenchDatabase()
        defer { database.orders.close() }
        let pattern = prefix + "%"
        let orders = try database.int("SELECT count(DISTINCT order_id) FROM order_lines WHERE product_id LIKE $1", [pattern])
        let confirmedUnits = try database.int("""
            SELECT sum(l.quantity) FROM order_lines l JOIN orders o ON o.id = l.order_id
            WHERE l.product_id LIKE $1 AND o.status = 'CONFIRMED'
            """, [pattern])
        let allocations = try database.int("""
            SELECT count(*) FROM stock_movements m JOIN order_lines l ON l.order_id = m.order_id AND l.line_no = m.line_no
            WHERE l.product_id LIKE $1 AND m.kind = 'allocate'
            """, [pattern])
        let taken = try database.int("SELECT sum($2::bigint - stock) FROM vendor_stock WHERE product_id LIKE $1", [pattern, stock])
        let values = KeyValues(try readText(depths))
        let (retried, dead) = (values.int(BenchQueues.retry) ?? -1, values.int(BenchQueues.deadLetters) ?? -1)
        try record.update { figures in
            guard var row = figures.scaling.popLast() else { throw BenchReportError("no scaling row to check") }
            let ok = orders == row.drain.orders && allocations == confirmedUnits && taken == confirmedUnits && retried == 0 && dead == 0
            row.check = "\(ok ? "yes" : "**NO**"): \(orders) of \(row.drain.orders) orders, \(allocations) allocations, stock −\(taken) for \(confirmedUnits) units CONFIRMED, retry \(retried), DLQ \(dead)"
            print("  check: \(row.check!)")
            figures.scaling.append(row)
        }
    }
}

/// The accepted order ids bench-load wrote.
func acceptedIDs(_ path: String) throws -> [String] {
    try readText(path).split(whereSeparator: \.isNewline).map(String.init)
}

struct WaitApplied: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait-applied", abstract: "Waits (at most --timeout seconds) until every accepted order has its row, or is CONFIRMED.")
    @Option var ids: String
    @Option var timeout: Int
    @Flag(help: "Wait for CONFIRMED (orders that pay), not just the row.") var confirmed = false

    func run() throws {
        let accepted = try acceptedIDs(self.ids)
        let (ids, count) = (BenchDatabase.idArray(accepted), accepted.count)
        let database = try BenchDatabase()
        defer { database.orders.close() }
        let deadline = Date().addingTimeInterval(Double(timeout))
        let sql = "SELECT count(*) FROM orders WHERE id = ANY($1::uuid[])" + (confirmed ? " AND status = 'CONFIRMED'" : "")
        while try database.int(sql, [ids]) < count, Date() < deadline {
            Thread.sleep(forTimeInterval: 1)
        }
    }
}
