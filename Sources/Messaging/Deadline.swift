import Synchronization

public struct DeadlineExceeded: Error, CustomStringConvertible, Sendable {
    public let after: Duration
    public var description: String { "no answer within \(after)" }
}

/// Answers many waits no later than their deadlines with one timer task for
/// all of them, instead of a timer and a task per wait: the HTTP API starts a
/// wait per request, thousands a second, and nearly all of them end long
/// before their deadline. The timer looks at the waits at least every 100 ms,
/// so a wait is answered at most that late.
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
        var ticking = false
    }

    private let state = Mutex(State())

    func watch(_ wait: Wait) {
        let startTimer = state.withLock { state in
            var index = state.waits.endIndex
            while index > state.waits.startIndex, state.waits[index - 1].deadline > wait.deadline { index -= 1 }
            state.waits.insert(wait, at: index)
            defer { state.ticking = true }
            return !state.ticking
        }
        if startTimer { Task { await self.tick() } }
    }

    private func tick() async {
        while true {
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
                guard let first = state.waits.first else {
                    state.ticking = false
                    return (due, nil)
                }
                return (due, min(first.deadline, now + .milliseconds(100)))
            }
            for wait in due { wait.answer(.failure(DeadlineExceeded(after: wait.timeout))) }
            guard let next else { return }
            try? await Task.sleep(until: next, clock: .continuous)
        }
    }
}
