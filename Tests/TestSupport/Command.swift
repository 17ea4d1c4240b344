import Foundation

/// Runs a program to completion with standard input from /dev/null (never a
/// terminal) and collects its output. Output goes through files, not pipes, so
/// a chatty program cannot fill a pipe nobody reads yet and block.
///
/// posix_spawn and waitpid directly, not Foundation's `Process`: its `run()`
/// crashed the test process (a segfault in its memcpy) when the parallel tests
/// started programs, even one at a time, and its `waitUntilExit` can miss the
/// exit of a script that leaves a daemon behind (rabbitmq-server, epmd).
public enum Command {
    public struct Output: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String
    }

    /// `environment` is merged over this process's own. The status is the exit
    /// status, or 128 + the signal that ended the program.
    public static func run(_ path: String, _ arguments: [String], environment: [String: String] = [:]) throws -> Output {
        let directory = FileManager.default.temporaryDirectory.path
        let name = UUID().uuidString
        let (out, err) = ("\(directory)/command-\(name).out", "\(directory)/command-\(name).err")
        defer {
            unlink(out)
            unlink(err)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        var argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        var envp: [UnsafeMutablePointer<CChar>?] = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, nil, &argv, &envp)
        guard spawned == 0 else { throw ChildProcessError(message: "cannot run \(path): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        return Output(
            status: (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f),
            stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }
}

extension Command {
    /// The real `orderctl` binary (`.build/debug/orderctl`), against the live services.
    public static func orderctl(_ arguments: [String], environment: [String: String] = [:]) throws -> Output {
        try run(
            try ChildProcess.executable("orderctl").path, arguments,
            environment: TestEnvironment.processEnvironment.merging(environment) { $1 })
    }
}
