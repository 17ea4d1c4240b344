import Logging
import ServiceLifecycle
import ServiceSupport
import Synchronization

/// channel-sync's two clocks, until shutdown: a push pass every push
/// interval, and every reconcile interval a reconciliation of the channel's
/// stock figures and of its recent orders. The stock reconciliation runs
/// between two push passes on the push task: both set figures and record
/// them, and interleaved they could leave the channel holding one figure
/// while `channel_stock` records another. The order reconciliation (a listing
/// of every recent order, the longest calls) runs on a task of its own, so it
/// never holds back the pushes. A failed pass is logged and the next one comes.
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
                group.addTask {
                    // The first stock reconciliation follows the first push pass, so the two do not send the same figures at start.
                    let reconciliationDue = Mutex(ContinuousClock.now + pushInterval)
                    await every(pushInterval, "channel stock push") {
                        _ = try await pusher.push()
                        let due = reconciliationDue.withLock { due in
                            guard ContinuousClock.now >= due else { return false }
                            due = ContinuousClock.now + reconcileInterval
                            return true
                        }
                        if due { _ = try await pusher.reconcile() }
                    }
                }
                group.addTask {
                    // The orders are checked whether or not the figures could be (a token
                    // without the inventory scope must not hide lost webhooks).
                    do { try await Task.sleep(for: pushInterval) } catch { return }
                    await every(reconcileInterval, "channel order reconciliation") {
                        _ = try await orders.reconcile(lookback: reconcileLookback)
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
