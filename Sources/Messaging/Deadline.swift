import Synchronization

public struct DeadlineExceeded: Error, CustomStringConvertible, Sendable {
    public let after: Duration
    public var description: String { "no answer within \(after)" }
}

/// Answers many waits no later than their deadlines with one timer loop for
/// all of them, instead of a timer and a task per wait: the HTTP API starts a
/// wait per request, thousands a second, and nearly all of them end long
/// before their deadline. The loop (`run`, the owner's child task) looks at
/// the waits at least every 100 ms, so a wait is answered at most that late.
final class DeadlineWatch: Sendable {
    /// One wait: answered once, by whoever comes first (its operation or the watch).
    final class Wait: Sendable {
        let deadline: ContinuousClock.Instant
        let timeout: Duration
        private let continuation: Mutex<CheckedContinuation<Void, any Error>?>

        init(_ continuation: CheckedContinuation<Void, any Error>, timeout: Duration, deadline: ContinuousClock.Instant) {
            self.continuation = Mutex(continuation)
            self.timeout = timeout
            self.deadline = deadline
        }

        var isAnswered: Bool { continuation.withLock { $0 == nil } }

        /// Resumes the waiter, unless it was answered already.
        func answer(_ result: Result<Void, any Error>) {
            continuation.withLock { $0.take() }?.resume(with: result)
        }
    }

    private struct State {
        /// In deadline order (waits of one timeout arrive in that order anyway).
        var waits: [Wait] = []
        /// The loop, while it has no wait to time.
        var idle: CheckedContinuation<Void, Never>?
        /// The loop has ended: nothing would answer a new wait at its deadline.
        var ended = false
    }

    private let state = Mutex(State())

    /// Times `wait`; false when the loop has ended, in which case the wait is
    /// answered at once with `CancellationError` and its operation must not start.
    @discardableResult
    func watch(_ wait: Wait) -> Bool {
        let (idle, ended) = state.withLock { state in
            guard !state.ended else { return (nil as CheckedContinuation<Void, Never>?, true) }
            var index = state.waits.endIndex
            while index > state.waits.startIndex, state.waits[index - 1].deadline > wait.deadline { index -= 1 }
            state.waits.insert(wait, at: index)
            return (state.idle.take(), false)
        }
        if ended { wait.answer(.failure(CancellationError())) }
        idle?.resume()
        return !ended
    }

    /// Times the waits until its task is cancelled; then fails the waits still
    /// open (and any later one) with `CancellationError`, so none hangs.
    func run() async {
        while !Task.isCancelled {
            let (due, next): ([Wait], ContinuousClock.Instant?) = state.withLock { state in
                let now = ContinuousClock.now
                var due: [Wait] = []
                var done = 0
                for wait in state.waits {
                    if wait.isAnswered {
                        done += 1
                    } else if wait.deadline <= now {
                        due.append(wait)
                        done += 1
                    } else {
                        break
                    }
                }
                state.waits.removeFirst(done)
                return (due, state.waits.first.map { min($0.deadline, now + .milliseconds(100)) })
            }
            for wait in due { wait.answer(.failure(DeadlineExceeded(after: wait.timeout))) }
            if let next {
                try? await Task.sleep(until: next, clock: .continuous)
            } else {
                await idle()
            }
        }
        let open = state.withLock { state in
            state.ended = true
            defer { state.waits.removeAll() }
            return state.waits
        }
        for wait in open { wait.answer(.failure(CancellationError())) }
    }

    /// Waits for a first wait to time, or for cancellation.
    private func idle() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { state in
                    guard state.waits.isEmpty, !Task.isCancelled else { return true }
                    state.idle = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.idle.take() }?.resume()
        }
    }
}
