import ServiceLifecycle

/// A service that does nothing until graceful shutdown, then runs `action`
/// (closing pools and connections). ServiceGroup stops services in reverse
/// order, so list it before the services that use what it closes.
public struct OnShutdown: Service {
    let action: @Sendable () async -> Void

    public init(_ action: @escaping @Sendable () async -> Void) {
        self.action = action
    }

    public func run() async throws {
        try? await gracefulShutdown()
        await action()
    }
}
