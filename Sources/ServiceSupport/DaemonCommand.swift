import ArgumentParser
import Logging
import ServiceLifecycle

/// The root command of a daemon: ``ProjectCommand``'s command line, and a
/// `run` that hands ``services(logger:)`` to ``Daemon/run(_:_:)``.
public protocol DaemonCommand: ProjectCommand {
    /// Reads the configuration and builds the services (connecting is theirs to do when they run).
    func services(logger: Logger) throws -> (configuration: Logger.Metadata, services: [any Service])
}

extension DaemonCommand {
    public func run() async throws {
        await Daemon.run(Self.configuration.commandName ?? "\(Self.self)") { logger in try services(logger: logger) }
    }
}

extension CommandConfiguration {
    /// A daemon's: its name and abstract, the discussion every daemon's `--help` shares, the project's version.
    public static func daemon(_ name: String, abstract: String) -> CommandConfiguration {
        CommandConfiguration(commandName: name, abstract: abstract, discussion: Daemon.discussion, version: ProjectVersion.text)
    }
}
