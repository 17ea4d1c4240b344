@testable import Messaging
import Synchronization
import Testing

/// The one timer behind every HTTP publish's deadline.
@Suite struct DeadlineWatchTests {
    struct Answered: Error {}

    /// Starts a wait under `watch` and returns its outcome: "ok", "timeout" or "error".
    private func outcome(_ watch: DeadlineWatch, timeout: Duration, answer: (@Sendable (DeadlineWatch.Wait) -> Void)? = nil) async -> String {
        do {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let wait = DeadlineWatch.Wait(continuation, timeout: timeout, deadline: .now + timeout)
                watch.watch(wait)
                answer?(wait)
            }
            return "ok"
        } catch is DeadlineExceeded {
            return "timeout"
        } catch {
            return "error"
        }
    }

    /// Runs `body` while the watch's timer loop runs, as its owner's child task.
    private func withRunningWatch<T: Sendable>(_ body: (DeadlineWatch) async -> T) async -> T {
        let watch = DeadlineWatch()
        return await withDiscardingTaskGroup { group in
            group.addTask { await watch.run() }
            defer { group.cancelAll() }
            return await body(watch)
        }
    }

    @Test func anUnansweredWaitFailsAtItsDeadlineAndAnAnsweredOneKeepsItsAnswer() async {
        await withRunningWatch { watch in
            async let silent = outcome(watch, timeout: .milliseconds(50))
            async let confirmed = outcome(watch, timeout: .milliseconds(50)) { $0.answer(.success(())) }
            async let refused = outcome(watch, timeout: .milliseconds(50)) { $0.answer(.failure(Answered())) }
            #expect(await [silent, confirmed, refused] == ["timeout", "ok", "error"])
        }
    }

    @Test func aLaterAnswerIsDroppedAndAShorterDeadlineIsNotHeldUpByALongerOne() async {
        await withRunningWatch { watch in
            // The long wait is registered first; the short one must still time out long before it.
            let long = Task { await outcome(watch, timeout: .seconds(600)) { wait in
                Task { try? await Task.sleep(for: .milliseconds(300)); wait.answer(.success(())) }
            } }
            let clock = ContinuousClock()
            let started = clock.now
            let shortWait = Mutex<DeadlineWatch.Wait?>(nil)
            let short = await outcome(watch, timeout: .milliseconds(20)) { wait in shortWait.withLock { $0 = wait } }
            // The broker's answer after the deadline: dropped (a second resume would trap here).
            shortWait.withLock { $0 }?.answer(.success(()))
            #expect(short == "timeout")
            #expect(clock.now - started < .seconds(30), "answered by the watch, not by the late answer")
            #expect(await long.value == "ok")
        }
    }
}
