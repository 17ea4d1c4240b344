import Foundation
import ServiceSupport
import Testing
import TestSupport

/// Every built executable's command line: `--help` and `--version` print and exit
/// 0, bad usage prints the usage on stderr and exits 2, and a daemon's
/// configuration is checked before it touches the broker or a database.
@Suite(.timeLimit(.minutes(2))) struct ExecutableCommandLineTests {
    static let executables = [
        "order-api", "order-worker", "vendor-sync-worker", "stock-sync", "payment-worker", "orderctl", "bench-amqp", "bench-load", "order-console",
    ]

    /// An unusable LOG_LEVEL makes a daemon that starts anyway exit at once,
    /// so a daemon that ignored its arguments fails these tests instead of serving.
    private static let stopIfStarted = ["LOG_LEVEL": "not-a-level"]

    private func run(_ name: String, _ arguments: [String], environment: [String: String] = stopIfStarted) throws -> Command.Output {
        try Command.run(try ChildProcess.executable(name).path, arguments, environment: environment)
    }

    @Test(arguments: ExecutableCommandLineTests.executables)
    func helpPrintsTheUsageAndExitsZero(name: String) throws {
        let help = try run(name, ["--help"])
        #expect(help.status == 0, "\(name): \(help.stderr)")
        #expect(help.stdout.contains("USAGE: \(name)"), "\(name): \(help.stdout)")
        #expect(help.stdout.contains("--version"), "\(name)")
        #expect(help.stderr.isEmpty, "\(name): \(help.stderr)")
    }

    @Test(arguments: ExecutableCommandLineTests.executables)
    func versionPrintsTheProjectVersionAndExitsZero(name: String) throws {
        let version = try run(name, ["--version"])
        #expect(version.status == 0, "\(name): \(version.stderr)")
        #expect(version.stdout == ProjectVersion.text + "\n", "\(name): \(version.stdout)")
    }

    @Test(arguments: ExecutableCommandLineTests.executables)
    func anUnknownArgumentPrintsTheUsageOnStderrAndExitsTwo(name: String) throws {
        // bench-load's --rate is required, and a missing one is reported before an unknown option.
        let required = name == "bench-load" ? ["--rate", "1"] : []
        let unknown = try run(name, required + ["--no-such-option"])
        #expect(unknown.status == 2, "\(name): \(unknown.stderr)")
        #expect(unknown.stderr.contains("Unknown option '--no-such-option'"), "\(name): \(unknown.stderr)")
        #expect(unknown.stderr.contains("Usage: \(name)"), "\(name): \(unknown.stderr)")
        #expect(unknown.stdout.isEmpty, "\(name): \(unknown.stdout)")
    }

    @Test func stockSyncTakesOnceButNotATypoOfIt() throws {
        let typo = try run("stock-sync", ["--onc"])
        #expect(typo.status == 2, "\(typo.stderr)")
        #expect(typo.stderr.contains("Unknown option '--onc'"), "\(typo.stderr)")
        // --once is parsed: the daemon gets as far as its configuration check.
        let once = try run("stock-sync", ["--once"])
        #expect(once.status == 1)
        #expect(once.stdout.contains("LOG_LEVEL must be one of"), "\(once.stdout)")
    }

    @Test func aDaemonsPositionalArgumentIsBadUsageToo() throws {
        let extra = try run("order-worker", ["now"])
        #expect(extra.status == 2, "\(extra.stderr)")
        #expect(extra.stderr.contains("Unexpected argument 'now'"), "\(extra.stderr)")
    }

    // MARK: Configuration at start

    /// The daemon's JSON log lines on stdout.
    private func logLines(_ output: Command.Output) -> [[String: Any]] {
        output.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    @Test(arguments: ["order-api", "order-worker", "vendor-sync-worker", "stock-sync", "payment-worker"])
    func anUnknownLogLevelStopsADaemonAtStartNamingTheVariable(name: String) throws {
        let output = try run(name, [], environment: ["LOG_LEVEL": "verbose"])
        #expect(output.status == 1, "\(name): \(output.stdout)")
        let critical = logLines(output).filter { $0["level"] as? String == "critical" }
        #expect(critical.count == 1, "\(name): \(output.stdout)")
        #expect(critical.first?["error"] as? String
            == "configuration: LOG_LEVEL must be one of trace, debug, info, notice, warning, error, critical, got 'verbose'", "\(name)")
    }

    @Test func misspeltVariablesAreWarnedAboutAndALowPrefetchIsRefused() throws {
        let output = try run("order-worker", [], environment: [
            "LOG_LEVEL": "info", "WORKER_PREFECH": "5", "DATABSE_URL": "postgres://nowhere/none", "WORKER_PREFETCH": "100",
        ])
        #expect(output.status == 1, "\(output.stdout)")
        let lines = logLines(output)
        let warnings = lines.filter { $0["level"] as? String == "warning" }.compactMap { $0["msg"] as? String }
        #expect(warnings == [
            "unknown variable DATABSE_URL (did you mean DATABASE_URL?)",
            "unknown variable WORKER_PREFECH (did you mean WORKER_PREFETCH?)",
        ], "\(output.stdout)")
        let error = lines.first { $0["level"] as? String == "critical" }?["error"] as? String
        #expect(error == "configuration: WORKER_PREFETCH must be at least twice WORKER_BATCH_SIZE (1000), got 100: "
            + "raise it to 2000, or lower WORKER_BATCH_SIZE to at most half of it", "\(output.stdout)")
        #expect(!lines.contains { $0["msg"] as? String == "starting" }, "refused before it starts")
    }
}
