import Logging
import ServiceLifecycle
import ServiceSupport

/// channel-sync's two clocks, until shutdown: a push pass every push
/// interval, and every reconcile interval a reconciliation (the channel's
/// stock figures, then its recent orders). Reconciliation runs on its own
/// task, so its longer calls never hold back the pushes. A failed pass is
/// logged and the next one comes.
struct ChannelSyncLoop: Service {
    let pusher: ChannelStockPusher
    let orders: ChannelOrderReconciler
    let pushInterval: Duration
    let reconcileInterval: Duration
    let reconcileLookback: Duration
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await every(pushInterval, "channel stock push") { _ = try await pusher.push() } }
                group.addTask {
                    // The first reconciliation follows the first push pass, so the two do not send the same figures at start.
                    do { try await Task.sleep(for: pushInterval) } catch { return }
                    await every(reconcileInterval, "channel reconciliation") {
                        // The orders are checked even when the figures could not be (a token
                        // without the inventory scope must not hide lost webhooks).
                        var stockFailure: (any Error)?
                        do { _ = try await pusher.reconcile() } catch { stockFailure = error }
                        _ = try await orders.reconcile(lookback: reconcileLookback)
                        if let stockFailure { throw stockFailure }
                    }
                }
            }
        }
    }

    private func every(_ interval: Duration, _ name: String, _ pass: @Sendable () async throws -> Void) async {
        while !Task.isCancelled {
            do {
                try await pass()
            } catch {
                // A call cut short by the shutdown is no failure to report.
                if Task.isCancelled { return }
                logger.error("\(name) failed", metadata: [LogKey.error: "\(error)"])
            }
            do { try await Task.sleep(for: interval) } catch { return }
        }
    }
}
