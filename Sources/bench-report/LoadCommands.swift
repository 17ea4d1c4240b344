import ArgumentParser
import BenchReport
import Foundation
import Postgres

/// One bench-load run's output and accepted ids.
struct LoadOptions: ParsableArguments {
    @Option var rate: Int
    @Option(name: .customLong("load-log"), help: "bench-load's output.") var loadLog: String
    @Option(help: "The CPU line of the load (bench-report cpu report).") var cpu: String

    func values() throws -> KeyValues { KeyValues(try readText(loadLog)) }
}

/// The orders bench-load had accepted, and how long the script waited for them afterwards.
struct AcceptedOrders: ParsableArguments {
    @Option(help: "bench-load's --ids-out file.") var ids: String
    @Option(help: "How long the wait after the load was (BENCH_E2E_DRAIN_WAIT, BENCH_PAY_DRAIN_WAIT).") var wait: Int

    func read() throws -> [String] { try acceptedIDs(ids) }
}

struct EndToEnd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "e2e", abstract: "Records one rate of phase d: acceptance, accept→CONFIRMED, what vendor-sync left.")
    @OptionGroup var record: RunOptions
    @OptionGroup var load: LoadOptions
    @OptionGroup var orders: AcceptedOrders
    @Option(help: "bench-amqp depth of the orders and vendor_sync queues, saved after the wait.") var depths: String

    func run() throws {
        let values = try load.values()
        let (accepted, wait) = (try orders.read(), orders.wait)
        let database = try BenchDatabase()
        defer { database.orders.close() }
        // accept→CONFIRMED of each accepted order (the worker's transaction start minus the API's acceptedAt);
        // one not CONFIRMED (yet) ranks after every one that is.
        let array = BenchDatabase.idArray(accepted)
        let measured = try database.orders.query("""
            SELECT extract(epoch FROM o.created_at - o.queued_at)::float8 * 1000 FROM orders o
            WHERE o.id = ANY($1::uuid[]) AND o.status = 'CONFIRMED'
            """, array).rows.map { try $0.decode(0, as: Double.self) }
        let pending = try database.int(
            "SELECT count(*) FROM stock_movements WHERE order_id = ANY($1::uuid[]) AND status = 'PENDING'", [array])
        let depths = KeyValues(try readText(self.depths))
        let confirmLatency = Arithmetic.confirmLatency(measured, outOf: accepted.count, wait: wait)
        let acceptLatency = ["latency_ms_p50", "latency_ms_p99", "latency_ms_p999"].map(values.acceptMilliseconds).joined(separator: "/")
        let row = Figures.EndToEndRow(
            offered: load.rate, acceptedPerSecond: values.int("accepted_per_s") ?? 0, acceptLatency: acceptLatency,
            confirmLatency: confirmLatency, confirmedOfAccepted: "\(measured.count)/\(accepted.count)",
            otherAnswers: values.otherAnswers,
            vendorSyncLeft: "\(depths.text(BenchQueues.vendorSync)) queued, \(pending) PENDING", cpu: load.cpu)
        print("  \(load.rate) req/s offered: \(row.acceptedPerSecond) accepted/s; accept latency p50/p99/p99.9 \(acceptLatency) ms; \(row.otherAnswers); generator send lag p99 \(values.text("send_lag_ms_p99")) ms")
        print("  cpu during the load: \(load.cpu)")
        print("  accept→CONFIRMED p50/p99/p99.9: \(confirmLatency) ms; \(row.confirmedOfAccepted) accepted orders CONFIRMED by \(wait)s after the load")
        print("  left behind: \(depths.text(BenchQueues.orders)) in \(BenchQueues.orders), \(row.vendorSyncLeft)")
        try record.update { $0.endToEnd.append(row) }
    }
}

struct APICeilingResult: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api-ceiling", abstract: "Records order-api's ceiling (phase d, the workers stopped).")
    @OptionGroup var record: RunOptions
    @OptionGroup var load: LoadOptions
    @Option var seconds: Int

    func run() throws {
        let values = try load.values()
        let ceiling = Figures.APICeiling(
            acceptedPerSecond: values.int("accepted_per_s") ?? 0,
            note: "offered \(load.rate) req/s for \(seconds)s; \(values.text("accepted")) accepted, not 202: \(values.otherAnswers); CPU: \(load.cpu)")
        print("  order-api alone: \(ceiling.acceptedPerSecond) accepted/s (\(ceiling.note))")
        try record.update { $0.apiCeiling = ceiling }
    }
}

struct Payments: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pay", abstract: "Records one rate of phase p: acceptance, accept→CONFIRMED through the payment, CONFIRMED/s.")
    @OptionGroup var record: RunOptions
    @OptionGroup var load: LoadOptions
    @OptionGroup var orders: AcceptedOrders

    func run() throws {
        let values = try load.values()
        let (accepted, wait) = (try orders.read(), orders.wait)
        let database = try BenchDatabase()
        defer { database.orders.close() }
        // accept→CONFIRMED: the CONFIRMED transition's time minus the API's acceptedAt; the rate at which payments
        // completed: CONFIRMED orders over first accept to last CONFIRMED.
        let rows = try database.orders.query("""
            SELECT extract(epoch FROM t.occurred_at - o.queued_at)::float8 * 1000, extract(epoch FROM t.occurred_at)::float8,
                   extract(epoch FROM o.queued_at)::float8
            FROM unnest($1::uuid[]) AS a(id) LEFT JOIN orders o ON o.id = a.id
            LEFT JOIN order_transitions t ON t.order_id = a.id AND t.to_status = 'CONFIRMED'
            """, BenchDatabase.idArray(accepted)).rows
        let measured = try rows.compactMap { try $0.decode(0, as: Double?.self) }
        let confirmedAt = try rows.compactMap { try $0.decode(1, as: Double?.self) }
        let queuedAt = try rows.compactMap { try $0.decode(2, as: Double?.self) }
        var perSecond = 0
        if let last = confirmedAt.max(), let first = queuedAt.min(), last > first {
            perSecond = Int((Double(confirmedAt.count) / (last - first)).rounded())
        }
        let latency = Arithmetic.confirmLatency(measured, outOf: accepted.count, wait: wait)
        let acceptLatency = ["latency_ms_p50", "latency_ms_p99"].map(values.acceptMilliseconds).joined(separator: "/")
        let row = Figures.PaymentRow(
            offered: load.rate, acceptedPerSecond: values.int("accepted_per_s") ?? 0, acceptLatency: acceptLatency,
            confirmLatency: latency, confirmedOfAccepted: "\(measured.count)/\(accepted.count)", confirmedPerSecond: perSecond, cpu: load.cpu)
        print("  \(load.rate) req/s offered: \(row.acceptedPerSecond) accepted/s; accept p50/p99 \(acceptLatency) ms; accept→CONFIRMED p50/p99/p99.9 \(latency) ms; \(row.confirmedOfAccepted) CONFIRMED (\(perSecond)/s)")
        print("  cpu: \(load.cpu)")
        try record.update { $0.payments.append(row) }
    }
}

struct Render: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Prints the run's tables; with --write, writes BENCHMARKS.md (the hand-written analysis appended).")
    @OptionGroup var record: RunOptions
    @Option(help: "The file to write (BENCHMARKS.md).") var write: String?
    @Option(help: "The hand-written analysis to append (scripts/bench-analysis.md).") var analysis: String?

    func run() throws {
        let document = BenchmarksDocument(try record.figures())
        print(document.resultsTables)
        if !document.figures.scaling.isEmpty {
            print("\nHow cost grows:\n")
            print(document.scalingTable)
        }
        print("")
        print(document.warnings)
        if let write {
            let analysis = try self.analysis.map(readText) ?? ""
            try document.markdown(analysis: analysis).write(toFile: write, atomically: true, encoding: .utf8)
        }
    }
}

extension KeyValues {
    /// bench-load's answers other than 202, as both load tables show them.
    var otherAnswers: String {
        "\(text("non_202")), \(text("connection_errors")) conn. errors, \(text("unanswered")) unanswered"
    }
}
