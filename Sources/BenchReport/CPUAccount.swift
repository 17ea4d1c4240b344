import Foundation

/// CPU used by the processes of a phase, RabbitMQ and PostgreSQL, and by the
/// whole machine, between a mark and a report ("what limits it").
public struct CPUAccount: Codable, Sendable, Equatable {
    public struct Process: Codable, Sendable, Equatable {
        public var name: String
        /// nil for PostgreSQL: all its processes, counted at each sample.
        public var pid: Int32?
        public var ticks: Int
    }

    public var processes: [Process]
    public var machineBusy: Int
    public var wallSeconds: Double

    public init(processes: [Process], machineBusy: Int, wallSeconds: Double) {
        self.processes = processes
        self.machineBusy = machineBusy
        self.wallSeconds = wallSeconds
    }

    /// The share of each process since `start`, in percent of one core, then
    /// `extra` (already formatted), then the machine's: "order-worker 17%, …,
    /// machine 164% of 200%". A process that has exited says so.
    public static func report(from start: CPUAccount, to end: CPUAccount, ticksPerSecond: Int, cores: Int, extra: String? = nil) -> String {
        let elapsed = max(end.wallSeconds - start.wallSeconds, 0.001)
        func percent(_ ticks: Int) -> Int { Int((Double(ticks) / Double(ticksPerSecond) / elapsed * 100).rounded()) }
        var parts: [String] = []
        for first in start.processes {
            guard let last = end.processes.first(where: { $0.name == first.name && $0.pid == first.pid }) else {
                parts.append("\(first.name) exited")
                continue
            }
            parts.append("\(first.name) \(percent(last.ticks - first.ticks))%")
        }
        if let extra { parts.append(extra) }
        parts.append("machine \(percent(end.machineBusy - start.machineBusy))% of \(cores * 100)%")
        return parts.joined(separator: ", ")
    }

    /// The share of one core that `cpuSeconds` are over `seconds`: "bench-load 30%".
    public static func share(_ name: String, cpuSeconds: Double, overSeconds seconds: Double) -> String {
        "\(name) \(Int((cpuSeconds / max(seconds, 0.001) * 100).rounded()))%"
    }

    // MARK: Sampling the live processes

    /// Samples `named` processes (a gone one is left out), RabbitMQ (`rabbitPID`) and PostgreSQL (`postmasterPID`:
    /// the postmaster with its exited backends plus every live backend).
    public static func sample(_ named: [(name: String, pid: Int32)], rabbitPID: Int32?, postmasterPID: Int32?) -> CPUAccount {
        var processes = named.compactMap { entry in
            ProcFS.ticks(pid: entry.pid).map { Process(name: entry.name, pid: entry.pid, ticks: $0) }
        }
        if let rabbitPID, let ticks = ProcFS.ticks(pid: rabbitPID) {
            processes.append(Process(name: "rabbitmq", pid: rabbitPID, ticks: ticks))
        }
        if let postmasterPID {
            let backends = ProcFS.processes(named: "postgres").filter { $0 != postmasterPID }
            let ticks = (ProcFS.ticks(pid: postmasterPID, children: true) ?? 0) + backends.compactMap { ProcFS.ticks(pid: $0) }.reduce(0, +)
            processes.append(Process(name: "postgres", pid: nil, ticks: ticks))
        }
        return CPUAccount(processes: processes, machineBusy: ProcFS.machineBusy() ?? 0, wallSeconds: Date().timeIntervalSince1970)
    }
}
