import AMQP
import DequeModule
import Synchronization

/// Buffers a consumer's deliveries so a worker can take every message that
/// has already arrived (up to a limit) in one go, instead of one at a time.
/// The prefetch window bounds how many can be buffered.
final class DeliveryBatcher: Sendable {
    private struct State {
        var buffer = Deque<AMQPDelivery>()
        var waiter: CheckedContinuation<Void, Never>?
        var finished = false
        var stopped = false
        var failure: (any Error)?
    }

    private let state = Mutex(State())

    /// Feeds the batcher from a consumer until it ends; call from a task of its own.
    func feed(from consumer: AMQPConsumer) async {
        do {
            for try await delivery in consumer { push(delivery) }
            finish(nil)
        } catch {
            finish(error)
        }
    }

    private func push(_ delivery: AMQPDelivery) {
        update { $0.buffer.append(delivery) }
    }

    /// Resumes a waiting `nextBatch` so it sees its task's cancellation.
    private func wake() {
        update { _ in }
    }

    func finish(_ error: (any Error)?) {
        update { state in
            state.finished = true
            state.failure = state.failure ?? error
        }
    }

    /// Stops handing out deliveries (graceful shutdown): a waiting or later
    /// `nextBatch` returns an empty batch; what is buffered stays unacked and
    /// goes back to the queue with the connection.
    func stop() {
        update { $0.stopped = true }
    }

    var isStopped: Bool { state.withLock { $0.stopped } }

    /// Throws once the consumer ended: its error, or ``ConsumerEnded`` when it
    /// ended normally. A loop that holds a window without taking the next
    /// checks this to learn that its connection is gone.
    func checkConsumer() throws {
        let (finished, failure) = state.withLock { ($0.finished, $0.failure) }
        if let failure { throw failure }
        if finished { throw ConsumerEnded() }
    }

    struct ConsumerEnded: Error, CustomStringConvertible {
        var description: String { "the consumer ended" }
    }

    /// Applies `change` and resumes a waiting `nextBatch`, if any, to look again.
    private func update(_ change: (inout State) -> Void) {
        let waiter = state.withLock { state in
            change(&state)
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Waits for at least one delivery and returns up to `limit` of them, in order.
    /// With fewer than `limit` at hand, first waits `linger` once for more.
    /// Returns an empty batch once the consumer ended normally or the batcher
    /// was stopped; throws if the consumer failed or the task was cancelled.
    func nextBatch(limit: Int, linger: Duration = .zero) async throws -> [AMQPDelivery] {
        var lingered = linger <= .zero
        while true {
            try Task.checkCancellation()
            enum Step { case batch([AMQPDelivery]), failed(any Error), ended, wait, linger }
            let step: Step = state.withLock { state in
                if state.stopped { return .ended }
                if !state.buffer.isEmpty && state.buffer.count < limit && !lingered && !state.finished { return .linger }
                if !state.buffer.isEmpty {
                    let count = min(limit, state.buffer.count)
                    let batch = Array(state.buffer.prefix(count))
                    // O(count) on a ring buffer: an array would shift every delivery left behind.
                    state.buffer.removeFirst(count)
                    return .batch(batch)
                }
                if state.finished { return state.failure.map(Step.failed) ?? .ended }
                return .wait
            }
            switch step {
            case .batch(let batch): return batch
            case .failed(let error): throw error
            case .ended: return []
            case .linger:
                lingered = true
                try await Task.sleep(for: linger)
            case .wait:
                await withTaskCancellationHandler {
                    await withCheckedContinuation { continuation in
                        let ready = state.withLock { state in
                            if !state.buffer.isEmpty || state.finished || state.stopped || Task.isCancelled { return true }
                            state.waiter = continuation
                            return false
                        }
                        if ready { continuation.resume() }
                    }
                } onCancel: {
                    wake()
                }
            }
        }
    }
}
