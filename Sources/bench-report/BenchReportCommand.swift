import ArgumentParser
import BenchReport
import Foundation
import ServiceSupport

/// The logic of `scripts/bench` (the script starts and stops things; this
/// measures and writes): the bench's rows, the waits and measurements in
/// PostgreSQL, CPU and memory from /proc, the figures of each step in the
/// run's `figures.json`, and the tables and BENCHMARKS.md rendered from them.
@main
struct BenchReportCommand: ProjectCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-report",
        abstract: "Measurements, bench rows and the tables of scripts/bench (not a service).",
        version: ProjectVersion.text,
        subcommands: [
            Setup.self, Rows.self, Vendors.self, CPU.self, DisturbanceCheck.self, Pgbench.self, Broker.self, Drain.self,
            CheckApplied.self, WaitApplied.self, EndToEnd.self, APICeilingResult.self, Memory.self, DaemonConfigs.self,
            Payments.self, Render.self,
        ]
    )
}

/// The run's directory, where `figures.json` lives.
struct RunOptions: ParsableArguments {
    @Option(name: .customLong("run-dir"), help: "The run's directory (.local/bench/<time>).")
    var runDirectory: String

    var figuresPath: String { runDirectory + "/figures.json" }

    func update(_ change: (inout Figures) throws -> Void) throws {
        var figures = try Figures.load(from: figuresPath)
        try change(&figures)
        try figures.save(to: figuresPath)
    }

    func figures() throws -> Figures { try Figures.load(from: figuresPath) }
}

func readText(_ path: String) throws -> String {
    guard let text = ProcFS.read(path) else { throw BenchReportError("cannot read \(path)") }
    return text
}

/// `name=pid` arguments.
func namedPIDs(_ pairs: [String]) throws -> [(name: String, pid: Int32)] {
    try pairs.map { pair in
        guard let equals = pair.firstIndex(of: "="), let pid = Int32(pair[pair.index(after: equals)...]) else {
            throw ValidationError("expected name=pid, got \(pair)")
        }
        return (String(pair[..<equals]), pid)
    }
}

/// The pid in a service's pid file (the first line), nil while it is down.
func pidFile(_ path: String) -> Int32? {
    ProcFS.read(path)?.split(whereSeparator: \.isNewline).first.flatMap { Int32($0.trimmingCharacters(in: .whitespaces)) }
}

/// Where the shared services keep their pid files (ORDERS_STATE_DIR).
struct StateOptions: ParsableArguments {
    @Option(name: .customLong("state-dir"), help: "The services' state directory (ORDERS_STATE_DIR).")
    var stateDirectory: String

    var rabbitPID: Int32? { pidFile(stateDirectory + "/rabbitmq/rabbitmq.pid") }
    var postmasterPID: Int32? { pidFile(stateDirectory + "/postgres/data/postmaster.pid") }
}
