import Synchronization

public struct DeadlineExceeded: Error, CustomStringConvertible, Sendable {
    public let after: Duration
    public var description: String { "no answer within \(after)" }
}

/// Runs `operation`, but answers no later than `timeout`: a publish waiting
/// for a confirm that never comes must not hold an HTTP request forever. The
/// operation is not cancelled (a confirm cannot be un-awaited); its late
/// result is dropped.
public func withDeadline<T: Sendable>(_ timeout: Duration, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    let settled = Once()
    return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        let timer = Task {
            try? await Task.sleep(for: timeout)
            guard !Task.isCancelled else { return }
            if settled.claim() {
                continuation.resume(throwing: DeadlineExceeded(after: timeout))
            }
        }
        Task {
            let result: Result<T, any Error>
            do { result = .success(try await operation()) } catch { result = .failure(error) }
            timer.cancel()
            if settled.claim() {
                continuation.resume(with: result)
            }
        }
    }
}

/// True for the first caller of `claim()` only.
final class Once: Sendable {
    private let claimed = Mutex(false)

    func claim() -> Bool {
        claimed.withLock { done in
            defer { done = true }
            return !done
        }
    }
}
