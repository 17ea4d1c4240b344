import Foundation

/// The tables of a run and BENCHMARKS.md, rendered from its ``Figures``.
public struct BenchmarksDocument: Sendable {
    public let figures: Figures

    public init(_ figures: Figures) { self.figures = figures }

    private func setting(_ name: String) -> String { figures.settings[name] ?? "?" }

    // MARK: Figures derived from the runs

    private func best(_ runs: [Figures.PgbenchRun]) -> (tps: Int, clients: String, all: String) {
        guard let best = runs.max(by: { $0.tps < $1.tps }) else { return (0, "-", "-") }
        return (best.tps, String(best.clients), runs.map { "\($0.clients):\($0.tps)" }.joined(separator: " "))
    }

    private var broker: (rate: Int, shape: String, all: String, latency: String) {
        guard let best = figures.broker.max(by: { $0.rate < $1.rate }) else { return (0, "-", "-", "not run") }
        return (
            best.rate, best.shape, figures.broker.map { "\($0.shape):\($0.rate)" }.joined(separator: " "),
            "confirm p50 \(best.confirmP50) ms, p99 \(best.confirmP99) ms"
        )
    }

    /// The best accepted/s of (d) and the rate offered for it.
    private var endToEndBest: (accepted: Int, offered: String) {
        guard let best = figures.endToEnd.max(by: { $0.acceptedPerSecond < $1.acceptedPerSecond }) else { return (0, "-") }
        return (best.acceptedPerSecond, String(best.offered))
    }

    private func memory(_ name: String) -> String { figures.peakMemory[name].map(String.init) ?? "-" }

    private func drainCells(_ name: String) -> (rate: Int, note: String, rss: String, fill: String, rejected: String) {
        guard let drain = figures.drains[name] else { return (0, "not run", "-", "-", "-") }
        return (drain.rate, drain.note, drain.workerPeakMB.map(String.init).joined(separator: "+"), drain.fillRate, drain.rejectedPercent)
    }

    // MARK: Tables

    /// The results: the summary, (d) per rate and (p) per rate.
    public var resultsTables: String {
        let uniform = best(figures.pgbench["uniform"] ?? []), hot = best(figures.pgbench["hot"] ?? [])
        let broker = broker, e2e = endToEndBest
        let drainUniform = drainCells("uniform"), drainHot = drainCells("hot")
        let api = figures.apiCeiling ?? Figures.APICeiling(acceptedPerSecond: 0, note: "not run")
        func rows(_ cells: [[String]]) -> String { cells.map { "| " + $0.joined(separator: " | ") + " |" }.joined(separator: "\n") }
        let e2eRows = rows(figures.endToEnd.map {
            [String($0.offered), String($0.acceptedPerSecond), $0.acceptLatency, $0.confirmLatency, $0.confirmedOfAccepted, $0.otherAnswers, $0.vendorSyncLeft, $0.cpu]
        })
        let payRows = rows(figures.payments.map {
            [String($0.offered), String($0.acceptedPerSecond), $0.acceptLatency, $0.confirmLatency, $0.confirmedOfAccepted, String($0.confirmedPerSecond), $0.cpu]
        })
        return """
            | | figure | result | issue 6 target |
            | --- | --- | --- | --- |
            | (a) | pgbench, worker's per-order transaction, uniform over \(setting("BENCH_PRODUCTS")) products | **\(uniform.tps) tx/s** at \(uniform.clients) clients (clients:tx/s \(uniform.all)) | |
            | (a) | pgbench, same transaction, one hot product | **\(hot.tps) tx/s** at \(hot.clients) clients (\(hot.all)) | |
            | (b) | broker: confirmed persistent publishes, quorum queue, librabbitmq | **\(broker.rate) msg/s** at \(broker.shape) connections x in-flight (\(broker.all); \(broker.latency)) | |
            | (c) | order-worker drain, \(setting("BENCH_DRAIN_ORDERS")) orders, uniform | **\(drainUniform.rate) orders/s** (\(drainUniform.note); filled at \(drainUniform.fill) msg/s) | |
            | (c) | order-worker drain, \(setting("BENCH_DRAIN_ORDERS")) orders, hot product | **\(drainHot.rate) orders/s** (\(drainHot.note); \(drainHot.rejected)% REJECTED; filled at \(drainHot.fill) msg/s) | |
            | (c)/(a) | drain ÷ pgbench, uniform | **\(Arithmetic.ratio(drainUniform.rate, uniform.tps))×** | ≥ 3× |
            | (c)/(a) | drain ÷ pgbench, hot | **\(Arithmetic.ratio(drainHot.rate, hot.tps))×** | ≥ 10× |
            | (d) | end to end, best accepted orders/s (offered \(e2e.offered) req/s) | **\(e2e.accepted) orders/s** | ≥ 5,000/s with p99 accept ≤ 25 ms |
            | (d) | order-api alone (workers stopped), open-loop overload | **\(api.acceptedPerSecond) orders/s** (\(api.note)) | |
            | (d)/(b) | order-api accepted/s ÷ broker ceiling: alone / end to end (capped by the highest rate offered) | **\(Arithmetic.ratio(api.acceptedPerSecond, broker.rate))** / \(Arithmetic.ratio(e2e.accepted, broker.rate)) | ≥ 0.5 |
            | (e) | peak RSS (VmHWM) during (d), order-api's overload included: order-api / order-worker | **\(memory("order-api")) MB / \(memory("order-worker")) MB** (vendor-sync-worker \(memory("vendor-sync-worker")) MB; order-worker in (c): \(drainUniform.rss) / \(drainHot.rss) MB) | < 150 MB / < 100 MB |

            (d) per offered rate, \(setting("BENCH_E2E_SECONDS"))s each, \(setting("BENCH_E2E_CONNECTIONS")) keep-alive connections:

            | offered req/s | accepted/s | accept ms p50/p99/p99.9 | accept→CONFIRMED ms p50/p99/p99.9 | CONFIRMED/accepted | other answers | vendor-sync left | CPU % of one core |
            | --- | --- | --- | --- | --- | --- | --- | --- |
            \(e2eRows)

            (p) orders that pay (pm_card_visa, one line of a 1.00 EUR product) through payment-worker and localstripe, \(setting("BENCH_PAY_SECONDS"))s each, 64 connections; payment-worker peak RSS \(memory("payment-worker")) MB:

            | offered req/s | accepted/s | accept ms p50/p99 | accept→CONFIRMED ms p50/p99/p99.9 | CONFIRMED/accepted | CONFIRMED/s | CPU % of one core |
            | --- | --- | --- | --- | --- | --- | --- |
            \(payRows)
            """
    }

    /// "How cost grows": one row per drain of phase (s).
    public var scalingTable: String {
        let machine = figures.machine
        let durability = "fsync=\(machine.fsync), synchronous_commit=\(machine.synchronousCommit); quorum queues, persistent, confirms"
        let rows = figures.scaling.map { row -> String in
            let what: String
            switch row.dimension {
            case "backlog": what = "\(Arithmetic.grouped(row.value)) orders waiting"
            case "products": what = "\(Arithmetic.grouped(row.value)) products"
            case "vendors": what = "\(row.value) vendors"
            case "workers": what = "\(row.value) order-worker instance\(row.value == 1 ? "" : "s")"
            default: what = "\(row.dimension) \(row.value)"
            }
            let broker = row.brokerNodeMB.map { node in "\(node) / \(row.brokerQueueMB.map(String.init) ?? "?")" } ?? "-"
            let rss = row.drain.workerPeakMB.map(String.init).joined(separator: " + ")
            return "| \(what) | \(row.drain.orders) | **\(row.drain.rate)** (\(row.drain.note)) | \(rss) | \(broker) | \(row.check ?? "-") | \(row.drain.cpu) | \(durability) |"
        }
        return """
            | varied | orders | drain orders/s | order-worker peak RSS MB | RabbitMQ MB: node mem_used / orders queue, backlog waiting | applied once, stock exact, DLQ empty | CPU % of one core | durability |
            | --- | --- | --- | --- | --- | --- | --- | --- |
            \(rows.joined(separator: "\n"))
            """
    }

    public var warnings: String { figures.disturbance.warnings.joined(separator: "\n") }

    // MARK: BENCHMARKS.md

    /// The whole file; `analysis` is the hand-written part kept with the script (scripts/bench-analysis.md).
    public func markdown(analysis: String) -> String {
        let machine = figures.machine
        let configurations = figures.daemonConfigurations.map { "`\($0.name)` (\($0.settings))" }.joined(separator: "; ")
        let scaling = figures.scaling.isEmpty ? "" : """

            ## How cost grows

            \(scalingTable)

            """
        return """
            # Benchmarks

            Written by `scripts/bench` (the benchmark of issues 6 and 18); every run overwrites this file.

            - **Date:** \(figures.startedAt)
            - **Command:** `\(figures.command)`
            - **Commit:** \(machine.commit)
            - **Machine:** \(machine.cores) cores (\(machine.cpuModel)), \(machine.memory) RAM, \(machine.os), kernel \(machine.kernel); everything on loopback
            - **Versions:** \(machine.swiftVersion) (release build), RabbitMQ \(machine.rabbitMQVersion) (Erlang \(machine.erlangVersion)), PostgreSQL \(machine.postgresVersion), librabbitmq \(machine.librabbitmqVersion)
            - **Durability:** PostgreSQL fsync=\(machine.fsync), synchronous_commit=\(machine.synchronousCommit), full_page_writes=\(machine.fullPageWrites), wal_sync_method=\(machine.walSyncMethod); durable quorum queues (checked), persistent messages, publisher confirms awaited for every message
            - **Daemons, as they logged their configuration:** \(configurations)

            ## Results

            \(resultsTables)

            \(warnings)
            \(scaling)
            ## How each figure is measured

            \(measurementNotes)

            \(analysis)
            """
    }

    private var measurementNotes: String {
        let wait = setting("BENCH_E2E_DRAIN_WAIT"), port = Int(setting("BENCH_HTTP_PORT")).map { String($0 + 1) } ?? "?"
        return """
            - **(a)** `pgbench -M prepared -T \(setting("BENCH_PGBENCH_SECONDS"))` with [scripts/bench-order.sql](scripts/bench-order.sql): the worker's
              per-order transaction statement for statement (order id lookup FOR UPDATE, stock rows FOR UPDATE, decrement, insert the
              order, its history row, its line and its allocate movement, commit), one line of quantity 1, over TCP like the worker. Client counts
              \(setting("BENCH_PGBENCH_CLIENTS")); the best is kept. Stock is reset and the bench orders deleted between runs.
            - **(b)** `bench-amqp ceiling`: our `AMQP` module (librabbitmq) publishing order-sized persistent messages with
              `mandatory` into a fresh quorum queue declared with the orders queue's arguments, each task awaiting its own confirm;
              connections × in-flight per connection as shown, \(setting("BENCH_BROKER_SECONDS"))s after a 1 s warm-up; the queue is deleted after.
            - **(c)** `bench-amqp fill` puts \(setting("BENCH_DRAIN_ORDERS")) valid `order.placed.v1` messages (as order-api publishes them) in
              `\(setting("BENCH_QUEUE_PREFIX"))orders_queue`, then the release `order-worker` starts and runs until every order has its row (or for at most
              \(setting("BENCH_DRAIN_TIMEOUT"))s); the rate is the orders applied between the first and the last order's transaction
              (`orders.created_at`; over the wall time when they all fell within 10 ms, one or two windows), the wall time includes start-up. Uniform: \(setting("BENCH_PRODUCTS")) products with
              plenty of stock; hot: one product with exactly as much stock as orders. vendor-sync-worker is not running.
            - **(d)** `bench-load`: open loop, request i due at t0 + i/rate whatever happened before, on
              \(setting("BENCH_E2E_CONNECTIONS")) keep-alive HTTP/1.1 connections opened before t0; accept latency runs from the intended send
              time to the end of the 202 (a request waiting for a free connection is charged for it); requests answered otherwise,
              or unanswered \(setting("BENCH_E2E_GRACE"))s after the last due time, rank after every accepted one ("not 202" when a percentile
              falls on them). accepted/s is the 202s over the time from t0 to the last answer. accept→CONFIRMED is
              `orders.created_at − queued_at` (the worker's transaction start minus the API's acceptedAt) of each accepted order,
              read up to \(wait)s after the load ended; ">\(wait)s" means that percentile falls on
              orders not CONFIRMED by then. "vendor-sync left" is the ready messages in `\(setting("BENCH_QUEUE_PREFIX"))vendor_sync` and the
              accepted orders' allocations still PENDING at that moment. The queues are purged between rates. CPU is per process
              during the load (postgres: all its processes, approximate; the load generator runs on the same 2 cores).
              order-worker and vendor-sync-worker run at niceness \(setting("BENCH_WORKER_NICE")) (order-api, RabbitMQ and PostgreSQL at 0): when
              the cores are short, the HTTP intake goes first and the queue consumers catch up in larger windows.
              "order-api alone": after the rates, the two workers stop and order-api takes \(setting("BENCH_API_CEILING_RATE")) req/s for
              \(setting("BENCH_API_CEILING_SECONDS"))s, more than it can; its accepted/s is its ceiling with the broker on the same cores,
              which the fixed rates (at most the highest offered) cannot show.
            - **(e)** VmHWM from /proc/<pid>/status of the daemons started for (d), read before stopping them.
            - **(p)** `bench-load --payment-method pm_card_visa`: the same open loop, each order paying. An order is CONFIRMED
              after the worker held its stock (RESERVED), payment-worker created and confirmed a PaymentIntent at localstripe
              (authorized: PAID), captured it, and the worker committed the hold; accept→CONFIRMED is the CONFIRMED transition's
              `occurred_at` minus the API's acceptedAt, read up to \(setting("BENCH_PAY_DRAIN_WAIT"))s after the load. The run starts a
              localstripe of its own with an empty store (port \(port)); it is one Python process, and its answers,
              not ours, bound this rate (see its share in the CPU column).
            - **(s)** "How cost grows": each row is a drain as in (c), uniform over \(setting("BENCH_PRODUCTS")) products unless the row varies
              them, \(setting("BENCH_SCALE_ORDERS")) orders unless it varies the backlog. Backlog rows read RabbitMQ's memory
              (management API: the node's `mem_used` and the orders queue's `memory`) once the queue is filled, before the worker starts.
              Product rows stock that many products of their own (bench-s-…). Vendor rows stock every product at each of
              that many vendor databases created for the run (`bench_vendor_N`, dropped after) and run vendor-sync-worker beside
              order-worker, at the same niceness. The instance rows run that many order-workers on the same queue, then check
              that every order was applied once (one order row and one allocate movement per message), that the stock went
              down by exactly the units CONFIRMED, and that nothing went to the retry queue or the DLQ.
            - The daemons run from `.build/release` with their defaults unless the command line says otherwise, and log at
              `LOG_LEVEL=\(setting("LOG_LEVEL"))`. Raw outputs of the run were in `.local/bench/` (not committed).
            """
    }
}
