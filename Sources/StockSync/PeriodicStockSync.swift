import Logging
import ServiceLifecycle
import ServiceSupport

/// Runs a sync every `interval` until shutdown; a failed run is logged and the next one comes.
struct PeriodicStockSync: Service {
    let runner: StockSyncRunner
    let interval: Duration
    let logger: Logger

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    _ = try await runner.runIfIdle()
                } catch {
                    logger.error("stock sync run failed", metadata: [LogKey.error: "\(error)"])
                }
                try await Task.sleep(for: interval)
            }
        }
    }
}
