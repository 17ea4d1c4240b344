import Foundation

/// Stops and starts the local RabbitMQ and PostgreSQL through `scripts/services`,
/// for the chaos tests (run apart from the others by scripts/test).
public enum LocalServices {
    public enum Service: String, Sendable { case rabbitmq, postgres }

    /// Chaos tests stop shared services, so they only run when scripts/test asks (CHAOS_TESTS=1).
    public static var chaosEnabled: Bool { ProcessInfo.processInfo.environment["CHAOS_TESTS"] == "1" }

    public static func stop(_ service: Service) throws { try run("stop-\(service.rawValue)") }
    public static func start(_ service: Service) throws { try run("start-\(service.rawValue)") }

    /// posix_spawn and waitpid directly: Foundation's Process.waitUntilExit can miss the exit of a
    /// script that leaves a daemon behind (rabbitmq-server, epmd) and wait forever.
    private static func run(_ command: String) throws {
        let script = TestEnvironment.repositoryRoot.appendingPathComponent("scripts/services").path
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("services-\(UUID().uuidString.prefix(8)).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let arguments = [script, command]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, script, &actions, nil, &argv, environ)
        guard spawned == 0 else { throw ChildProcessError(message: "cannot run scripts/services: errno \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let exitCode = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        guard exitCode == 0 else {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw ChildProcessError(message: "scripts/services \(command) failed (exit \(exitCode)): \(text)")
        }
    }
}
