import Foundation

/// What the bench reads from /proc: CPU clock ticks of a process and of the
/// whole machine, and a process's peak resident memory. The parsers take the
/// files' text, so that they can be tested without the processes.
public enum ProcFS {
    /// User + system ticks of a process (all its threads) from its
    /// /proc/<pid>/stat line; with `children`, also those of its children that
    /// have exited and been waited for (PostgreSQL's finished backends).
    public static func ticks(statLine: String, children: Bool = false) -> Int? {
        // The command name (field 2) is in parentheses and may hold spaces: count fields after its closing one.
        guard let close = statLine.lastIndex(of: ")") else { return nil }
        let fields = statLine[statLine.index(after: close)...].split(separator: " ")
        // fields[0] is the state (field 3); utime, stime, cutime, cstime are fields 14 to 17.
        guard fields.count > 14 else { return nil }
        let numbers = fields[11...14].compactMap { Int($0) }
        guard numbers.count == 4 else { return nil }
        return numbers[0] + numbers[1] + (children ? numbers[2] + numbers[3] : 0)
    }

    /// Ticks the machine spent busy since boot: every state of the /proc/stat
    /// `cpu` line but idle and iowait.
    public static func machineBusy(procStat: String) -> Int? {
        guard let line = procStat.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("cpu ") }) else { return nil }
        let values = line.split(separator: " ").dropFirst().compactMap { Int($0) }
        guard values.count >= 8 else { return nil }
        // user nice system idle iowait irq softirq steal
        return values[0] + values[1] + values[2] + values[5] + values[6] + values[7]
    }

    /// VmHWM (peak resident set) in MB from /proc/<pid>/status.
    public static func peakResidentMegabytes(status: String) -> Int? {
        guard let line = status.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("VmHWM:") }),
            let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) })
        else { return nil }
        return Int((kilobytes / 1024).rounded())
    }

    // MARK: The live files

    public static func read(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }

    public static func ticks(pid: Int32, children: Bool = false) -> Int? {
        read("/proc/\(pid)/stat").flatMap { ticks(statLine: $0, children: children) }
    }

    public static func machineBusy() -> Int? { read("/proc/stat").flatMap { machineBusy(procStat: $0) } }

    public static func peakResidentMegabytes(pid: Int32) -> Int? {
        read("/proc/\(pid)/status").flatMap { peakResidentMegabytes(status: $0) }
    }

    public static func isAlive(_ pid: Int32) -> Bool { FileManager.default.fileExists(atPath: "/proc/\(pid)") }

    /// Every live process whose command name (/proc/<pid>/comm) is `name`.
    public static func processes(named name: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter {
            read("/proc/\($0)/comm")?.trimmingCharacters(in: .whitespacesAndNewlines) == name
        }
    }

    /// The command lines of every live process, arguments separated by spaces.
    public static func commandLines() -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.compactMap { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !data.isEmpty else { return nil }
            return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }.joined(separator: " ")
        }
    }

    public static var ticksPerSecond: Int { Int(sysconf(Int32(_SC_CLK_TCK))) }
    public static var cores: Int { ProcessInfo.processInfo.activeProcessorCount }
}
