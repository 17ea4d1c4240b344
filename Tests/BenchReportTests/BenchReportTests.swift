import Foundation
import Testing

@testable import BenchReport

@Suite struct NearestRankTests {
    @Test func picksTheValueOfRankCeilingPTimesN() {
        let values = (1...100).map(Double.init)
        #expect(NearestRank.quantile(0.5, of: values) == .value(50))
        #expect(NearestRank.quantile(0.99, of: values) == .value(99))
        #expect(NearestRank.quantile(0.999, of: values) == .value(100))
        #expect(NearestRank.quantile(0.0, of: values) == .value(1))
    }

    @Test func aRankBeyondTheMeasuredValuesIsBeyond() {
        // 10 taken, 8 measured: p50 is rank 5, p99 rank 10 falls on an unmeasured one.
        let measured = (1...8).map(Double.init)
        #expect(NearestRank.quantile(0.5, of: measured, outOf: 10) == .value(5))
        #expect(NearestRank.quantile(0.99, of: measured, outOf: 10) == .beyond)
        #expect(NearestRank.quantile(0.5, of: [Double](), outOf: 0) == .none)
    }
}

@Suite struct ArithmeticTests {
    @Test func ratioHasTwoDecimalsAndADashForAPhaseNotRun() {
        #expect(Arithmetic.ratio(12038, 2841) == "4.24")
        #expect(Arithmetic.ratio(0, 2841) == "-")
        #expect(Arithmetic.ratio(12038, 0) == "-")
    }

    @Test func groupsThousands() {
        #expect(Arithmetic.grouped(1_000_000) == "1,000,000")
        #expect(Arithmetic.grouped(100) == "100")
        #expect(Arithmetic.grouped(10_000) == "10,000")
    }

    @Test func rateCountsIntervalsBetweenTheFirstAndTheLast() {
        #expect(Arithmetic.rate(count: 1001, spanSeconds: 2, wallSeconds: 9) == 500)
        #expect(Arithmetic.rate(count: 1, spanSeconds: 0, wallSeconds: 1) == 0)
        // All in one window: over the wall time.
        #expect(Arithmetic.rate(count: 1000, spanSeconds: 0, wallSeconds: 0.5) == 2000)
    }

    @Test func confirmLatencyRanksUnconfirmedOrdersLast() {
        #expect(Arithmetic.confirmLatency([10, 20, 30, 40], outOf: 4, wait: 20) == "20.0/40.0/40.0")
        #expect(Arithmetic.confirmLatency([10, 20, 30], outOf: 4, wait: 20) == "20.0/>20s/>20s")
        #expect(Arithmetic.confirmLatency([], outOf: 0, wait: 20) == "-/-/-")
    }
}

@Suite struct KeyValuesTests {
    @Test func readsWordsOnLinesAndTheLastOneWins() {
        let values = KeyValues("published=100 seconds=1.50 rate=67\nrate=70\nlatency_ms_p99=inf not a pair\n")
        #expect(values.int("rate") == 70)
        #expect(values.double("seconds") == 1.5)
        #expect(values.acceptMilliseconds("latency_ms_p99") == "not 202")
        #expect(values.text("missing") == "?")
    }

    @Test func pgbenchReport() throws {
        let report = try PgbenchReport("""
            number of failed transactions: 0 (0.000%)
            latency average = 2.815 ms
            tps = 2841.503961 (without initial connection time)
            """)
        #expect(report.tps == 2842)
        #expect(report.latencyAverage == "2.815 ms")
        #expect(report.failed == 0)
        #expect(throws: BenchReportError.self) { try PgbenchReport("pgbench: error") }
    }
}

@Suite struct ProcFSTests {
    @Test func ticksCountFieldsAfterTheCommandNameEvenWithSpacesInIt() {
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime …
        let line = "42 (a b) c) S 1 42 42 0 -1 4194304 10 0 0 0 300 50 7 3 20 0 1 0"
        #expect(ProcFS.ticks(statLine: line) == 350)
        #expect(ProcFS.ticks(statLine: line, children: true) == 360)
        #expect(ProcFS.ticks(statLine: "42 (short) S 1") == nil)
    }

    @Test func machineBusyLeavesIdleAndIOWaitOut() {
        let stat = "cpu  100 2 30 5000 40 6 7 8 0 0\ncpu0 50 1 15 2500 20 3 3 4 0 0\n"
        #expect(ProcFS.machineBusy(procStat: stat) == 100 + 2 + 30 + 6 + 7 + 8)
    }

    @Test func peakResidentSetInMegabytes() {
        #expect(ProcFS.peakResidentMegabytes(status: "Name:\tx\nVmHWM:\t   61440 kB\nVmRSS:\t 1 kB\n") == 60)
        #expect(ProcFS.peakResidentMegabytes(status: "Name:\tx\n") == nil)
    }

    @Test func cpuReportInPercentOfOneCore() {
        let start = CPUAccount(processes: [.init(name: "order-worker", pid: 7, ticks: 100), .init(name: "postgres", pid: nil, ticks: 0)],
                               machineBusy: 1000, wallSeconds: 10)
        let end = CPUAccount(processes: [.init(name: "postgres", pid: nil, ticks: 50)], machineBusy: 1300, wallSeconds: 12)
        #expect(CPUAccount.report(from: start, to: end, ticksPerSecond: 100, cores: 2, extra: "bench-load 5%")
            == "order-worker exited, postgres 25%, bench-load 5%, machine 150% of 200%")
        #expect(CPUAccount.share("bench-load", cpuSeconds: 0.6, overSeconds: 2) == "bench-load 30%")
    }
}

@Suite struct BenchCommandLineTests {
    @Test func givenSettingsThatChangeTheFiguresStateDirectoryFirst() {
        let environment = [
            "BENCH_DRAIN_ORDERS": "2000", "ORDERS_STATE_DIR": "/x/.local", "LOG_LEVEL": "info", "WORKER_PREFETCH": "500",
            "HOME": "/root", "BENCH_E2E_RATES": "100 200", "BENCH_PRODUCTS": "1000",
        ]
        // BENCH_PRODUCTS is the script's default, not given; LOG_LEVEL=info is the default value.
        let given = ["HOME", "BENCH_E2E_RATES", "WORKER_PREFETCH", "LOG_LEVEL", "BENCH_DRAIN_ORDERS", "ORDERS_STATE_DIR"]
        #expect(BenchCommandLine.text(given: given, environment: environment)
            == "ORDERS_STATE_DIR=/x/.local BENCH_DRAIN_ORDERS=2000 BENCH_E2E_RATES=100 200 WORKER_PREFETCH=500 scripts/bench")
    }
}

@Suite struct DisturbanceTests {
    @Test func notesOtherBuildsAndRestarts() {
        var disturbance = Disturbance()
        disturbance.check("(a)", commandLines: ["/usr/bin/bash x"], rabbitPID: 10, postmasterPID: 20)
        #expect(disturbance.warnings == ["- No other builds or test runs were seen on the machine between phases, and neither service restarted."])
        disturbance.check("(c) uniform", commandLines: ["/opt/swift/usr/bin/swift-build --build-tests -c debug a b c"], rabbitPID: 11, postmasterPID: 20)
        #expect(disturbance.warnings == [
            "- **Disturbed:** RabbitMQ restarted before (c) uniform",
            "- **Disturbed:** other builds or test runs were running on the machine at 1 of 2 checks ((c) uniform): `swift-build --build-tests -c debug a b`",
        ])
    }
}

@Suite struct DaemonConfigurationTests {
    @Test func theLastStartWithoutURLsAndLogFields() {
        let log = """
            {"ts":"1","level":"info","msg":"starting","prefetch":"100"}
            {"ts":"2","level":"info","msg":"consuming"}
            {"ts":"3","level":"info","msg":"starting","prefetch":"2500","linger_ms":"10.0","payments_required":false,"database_url":"postgres://x","queue":"bench.orders_queue"}
            """
        #expect(DaemonConfiguration(name: "order-worker", log: log).settings
            == "linger_ms=10.0, payments_required=False, prefetch=2500, queue=bench.orders_queue")
    }
}

@Suite struct BenchmarksDocumentTests {
    func figures() -> Figures {
        var figures = Figures()
        figures.settings = ["BENCH_PRODUCTS": "1000", "BENCH_DRAIN_ORDERS": "100000", "BENCH_E2E_SECONDS": "20", "BENCH_E2E_CONNECTIONS": "256"]
        figures.machine.fsync = "on"
        figures.machine.synchronousCommit = "on"
        figures.pgbench["uniform"] = [.init(clients: 1, tps: 703), .init(clients: 8, tps: 2841), .init(clients: 16, tps: 2568)]
        figures.drains["uniform"] = Figures.Drain(
            orders: 100000, applied: 100000, rate: 12038, wallSeconds: 8.84, timeoutSeconds: 120, rejectedPercent: "0.00",
            workerPeakMB: [60], fillRate: "42009", cpu: "order-worker 90%, machine 190% of 200%")
        figures.endToEnd = [.init(offered: 1000, acceptedPerSecond: 1000, acceptLatency: "2.11/7.60/10.92", confirmLatency: "10.1/23.4/32.4",
                                  confirmedOfAccepted: "20000/20000", otherAnswers: "none, 0 conn. errors, 0 unanswered",
                                  vendorSyncLeft: "0 queued, 0 PENDING", cpu: "machine 164% of 200%")]
        return figures
    }

    @Test func summaryRowsWithRatiosAndPhasesNotRun() {
        let tables = BenchmarksDocument(figures()).resultsTables
        #expect(tables.contains("| (a) | pgbench, worker's per-order transaction, uniform over 1000 products | **2841 tx/s** at 8 clients (clients:tx/s 1:703 8:2841 16:2568) | |"))
        #expect(tables.contains("| (c) | order-worker drain, 100000 orders, uniform | **12038 orders/s** (100000 orders in 8.8s wall; filled at 42009 msg/s) | |"))
        #expect(tables.contains("| (c)/(a) | drain ÷ pgbench, uniform | **4.24×** | ≥ 3× |"))
        #expect(tables.contains("| (c)/(a) | drain ÷ pgbench, hot | **-×** | ≥ 10× |"))
        #expect(tables.contains("| (b) | broker: confirmed persistent publishes, quorum queue, librabbitmq | **0 msg/s** at - connections x in-flight (-; not run) | |"))
        #expect(tables.contains("| 1000 | 1000 | 2.11/7.60/10.92 | 10.1/23.4/32.4 | 20000/20000 | none, 0 conn. errors, 0 unanswered | 0 queued, 0 PENDING | machine 164% of 200% |"))
    }

    @Test func aDrainStoppedByTheTimeLimitSaysSo() {
        var drain = figures().drains["uniform"]!
        drain.applied = 5000
        #expect(drain.note == "stopped at the 120s limit with 5000 of 100000 orders applied")
    }

    @Test func scalingTableHasARowPerDrainWithItsDurability() {
        var figures = figures()
        let drain = figures.drains["uniform"]!
        figures.scaling = [
            .init(dimension: "backlog", value: 1_000_000, drain: drain, brokerNodeMB: 900, brokerQueueMB: 600, check: nil),
            .init(dimension: "workers", value: 2, drain: drain, brokerNodeMB: nil, brokerQueueMB: nil, check: "yes: all"),
        ]
        let document = BenchmarksDocument(figures)
        let lines = document.scalingTable.split(separator: "\n")
        #expect(lines.count == 4)
        #expect(lines[2].hasPrefix("| 1,000,000 orders waiting | 100000 | **12038** (100000 orders in 8.8s wall) | 60 | 900 / 600 | - |"))
        #expect(lines[3].contains("| 2 order-worker instances |"))
        #expect(lines[3].contains("| yes: all |"))
        #expect(lines.dropFirst(2).allSatisfy { $0.hasSuffix("| fsync=on, synchronous_commit=on; quorum queues, persistent, confirms |") })
        #expect(document.markdown(analysis: "## What limits it").contains("## How cost grows\n\n| varied |"))
        #expect(!BenchmarksDocument(self.figures()).markdown(analysis: "").contains("## How cost grows"))
    }

    @Test func figuresSurviveTheirFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("figures-\(UUID()).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try Figures.load(from: path) == Figures())
        try figures().save(to: path)
        #expect(try Figures.load(from: path) == figures())
    }
}
