import Logging
import ServiceLifecycle

/// How a test holds what it starts: a fixture torn down whether the test threw
/// or not, and services run for exactly the length of a block.
public enum FixtureLifetime {
    /// Runs `body` with `fixture`, then `tearDown`, whether `body` threw or not.
    public static func using<Fixture>(
        _ fixture: Fixture, tearDown: (Fixture) async -> Void, _ body: (Fixture) async throws -> Void
    ) async throws {
        do {
            try await body(fixture)
        } catch {
            await tearDown(fixture)
            throw error
        }
        await tearDown(fixture)
    }

    /// Runs `services` in a ServiceGroup while `body` runs, then stops them
    /// gracefully; a failure of the group after a good `body` is thrown.
    public static func running<T>(_ services: [any Service], logger: Logger, _ body: () async throws -> T) async throws -> T {
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, logger: logger))
        let running = Task { try await group.run() }
        let result: T
        do {
            result = try await body()
        } catch {
            await group.triggerGracefulShutdown()
            _ = try? await running.value
            throw error
        }
        await group.triggerGracefulShutdown()
        try await running.value
        return result
    }
}
