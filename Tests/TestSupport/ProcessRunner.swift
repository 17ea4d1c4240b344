import Foundation

/// A project executable started as a real child process (built by `swift build`),
/// for tests that kill and restart it.
public final class ChildProcess: @unchecked Sendable {
    public let process: Process
    public let logFile: URL

    /// `.build/debug/<name>`; fails clearly when it was not built.
    public static func executable(_ name: String) throws -> URL {
        let url = TestEnvironment.repositoryRoot.appendingPathComponent(".build/debug/\(name)")
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            throw ChildProcessError(message: "\(url.path) is missing: run `swift build` (scripts/test does) before the tests")
        }
        return url
    }

    public init(_ name: String, environment: [String: String]) throws {
        process = Process()
        process.executableURL = try Self.executable(name)
        // The test run's broker and databases unless `environment` says otherwise, never the daemons' defaults.
        process.environment = ProcessInfo.processInfo.environment
            .merging(TestEnvironment.processEnvironment) { $1 }
            .merging(environment) { $1 }
        logFile = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString.prefix(8)).log")
        FileManager.default.createFile(atPath: logFile.path, contents: nil)
        let handle = try FileHandle(forWritingTo: logFile)
        process.standardOutput = handle
        process.standardError = handle
        try ProcessSpawning.run(process)
    }

    public var pid: Int32 { process.processIdentifier }

    public func kill(_ signal: Int32) {
        _ = Foundation.kill(process.processIdentifier, signal)
    }

    /// Waits for the process to exit; returns its status, or nil on timeout.
    public func waitForExit(timeout: Duration = .seconds(20)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        return process.isRunning ? nil : process.terminationStatus
    }

    public var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    /// Waits until the process's log contains `text` (at LOG_LEVEL info a daemon logs
    /// `"starting"` once its signal handling is in place); false on timeout or exit.
    public func waitForLog(containing text: String, timeout: Duration = .seconds(20)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !log.contains(text) {
            guard process.isRunning, ContinuousClock.now < deadline else { return log.contains(text) }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return true
    }

    deinit {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
    }
}

public struct ChildProcessError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
