import ArgumentParser
import BenchReport
import Foundation
import Postgres

struct CPU: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "CPU of processes, RabbitMQ, PostgreSQL and the machine between a mark and a report.",
        subcommands: [Mark.self, Report.self])

    struct Mark: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Samples the ticks now into a file.")
        @OptionGroup var state: StateOptions
        @Option(help: "The file for the sample.") var out: String
        @Argument(help: "name=pid of the processes to account for.") var processes: [String] = []

        func run() throws {
            let sample = CPUAccount.sample(try namedPIDs(processes), rabbitPID: state.rabbitPID, postmasterPID: state.postmasterPID)
            try JSONEncoder().encode(sample).write(to: URL(fileURLWithPath: out))
        }
    }

    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Prints each one's CPU since the mark, in percent of one core.")
        @OptionGroup var state: StateOptions
        @Option(help: "The mark's file.") var mark: String
        @Option(name: .customLong("load-log"), help: "bench-load's output: its own CPU is shown too.") var loadLog: String?

        func run() throws {
            let start = try JSONDecoder().decode(CPUAccount.self, from: Data(contentsOf: URL(fileURLWithPath: mark)))
            // The same processes again; RabbitMQ and PostgreSQL are sampled by their own rules.
            let named = start.processes.filter { $0.name != "rabbitmq" && $0.name != "postgres" }
                .compactMap { process in process.pid.map { (name: process.name, pid: $0) } }
            let end = CPUAccount.sample(named, rabbitPID: state.rabbitPID, postmasterPID: state.postmasterPID)
            let extra = try loadLog.map { log in
                CPUAccount.share("bench-load", cpuSeconds: KeyValues(try readText(log)).double("generator_cpu_s") ?? 0,
                                 overSeconds: end.wallSeconds - start.wallSeconds)
            }
            print(CPUAccount.report(from: start, to: end, ticksPerSecond: ProcFS.ticksPerSecond, cores: ProcFS.cores, extra: extra))
        }
    }
}

struct DisturbanceCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "disturbance", abstract: "Notes other builds or test runs on the machine, and service restarts, before a phase.")
    @OptionGroup var record: RunOptions
    @OptionGroup var state: StateOptions
    @Option var label: String

    func run() throws {
        let commandLines = ProcFS.commandLines()
        try record.update { $0.disturbance.check(label, commandLines: commandLines, rabbitPID: state.rabbitPID, postmasterPID: state.postmasterPID) }
    }
}

struct Pgbench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Records one pgbench run (phase a); fails on failed transactions.")
    @OptionGroup var record: RunOptions
    @Option var name: String
    @Option var clients: Int
    @Option var log: String

    func run() throws {
        let report = try PgbenchReport(try readText(log))
        guard report.failed == 0 else { throw BenchReportError("pgbench had failed transactions (log \(log))") }
        print("  \(name), \(clients) clients: \(report.tps) tx/s, latency avg \(report.latencyAverage)")
        try record.update { $0.pgbench[name, default: []].append(Figures.PgbenchRun(clients: clients, tps: report.tps)) }
    }
}

struct Broker: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Records one bench-amqp ceiling run (phase b).")
    @OptionGroup var record: RunOptions
    @Option var shape: String
    @Option var log: String

    func run() throws {
        let values = KeyValues(try readText(log))
        let row = Figures.BrokerRun(
            shape: shape, rate: values.int("rate") ?? 0, confirmP50: values.text("confirm_p50_ms"), confirmP99: values.text("confirm_p99_ms"))
        print("  \(shape): \(row.rate) msg/s, confirm p50 \(row.confirmP50) ms, p99 \(row.confirmP99) ms")
        try record.update { $0.broker.append(row) }
    }
}

struct Memory: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Records the peak RSS (VmHWM) of daemons, read now.")
    @OptionGroup var record: RunOptions
    @Argument(help: "name=pid.") var processes: [String]

    func run() throws {
        let peaks = try namedPIDs(processes).map { ($0.name, ProcFS.peakResidentMegabytes(pid: $0.pid)) }
        print(peaks.map { "\($0.0) \($0.1.map(String.init) ?? "?") MB" }.joined(separator: ", "))
        try record.update { figures in
            for (name, peak) in peaks { figures.peakMemory[name] = peak }
        }
    }
}

struct DaemonConfigs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon-configs", abstract: "Records each daemon's configuration as it logged it at its last start.")
    @OptionGroup var record: RunOptions
    @Argument(help: "name=log file.") var logs: [String]

    func run() throws {
        let configurations = try logs.map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw ValidationError("expected name=log, got \(pair)") }
            return DaemonConfiguration(name: parts[0], log: (try? readText(parts[1])) ?? "")
        }
        try record.update { $0.daemonConfigurations = configurations }
    }
}
