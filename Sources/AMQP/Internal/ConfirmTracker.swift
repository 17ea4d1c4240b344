/// Matches publisher confirms to the publishes waiting for them.
///
/// Delivery tags count up from 1 per channel once `confirm.select` is on.
/// An ack or nack may cover one tag or, with `multiple`, every tag up to it.
/// A mandatory message that cannot be routed comes back as `basic.return`
/// *before* its ack; the return carries no delivery tag, so it is matched to
/// the oldest unconfirmed publish with the same exchange, routing key and
/// message id (routing is decided in publish order).
struct ConfirmTracker<Waiter> {
    struct Pending {
        let exchange: String
        let routingKey: String
        let messageID: String?
        let waiter: Waiter
        var returned: AMQPError?
    }

    typealias Outcome = ConfirmOutcome

    private var pending: [UInt64: Pending] = [:]
    private(set) var nextTag: UInt64 = 1
    /// Every tag below this one has been settled.
    private var lowestUnsettled: UInt64 = 1

    var inFlight: Int { pending.count }

    /// Records a publish; returns the delivery tag the broker will confirm it with.
    @discardableResult
    mutating func register(exchange: String, routingKey: String, messageID: String?, waiter: Waiter) -> UInt64 {
        let tag = nextTag
        nextTag += 1
        pending[tag] = Pending(exchange: exchange, routingKey: routingKey, messageID: messageID, waiter: waiter)
        return tag
    }

    /// A publish that failed to be written: its tag was still consumed on the broker side
    /// only if the frame went out, so callers register only after a successful write.
    mutating func returned(exchange: String, routingKey: String, messageID: String?, error: AMQPError) {
        var tag = lowestUnsettled
        while tag < nextTag {
            if var entry = pending[tag], entry.returned == nil, entry.exchange == exchange,
                entry.routingKey == routingKey, entry.messageID == messageID
            {
                entry.returned = error
                pending[tag] = entry
                return
            }
            tag += 1
        }
    }

    mutating func ack(_ tag: UInt64, multiple: Bool) -> [(Waiter, Outcome)] {
        settle(tag, multiple: multiple) { entry in entry.returned.map(Outcome.failed) ?? .confirmed }
    }

    mutating func nack(_ tag: UInt64, multiple: Bool) -> [(Waiter, Outcome)] {
        settle(tag, multiple: multiple) { entry in
            .failed(entry.returned ?? AMQPError(kind: .nacked, message: "the broker refused the message (basic.nack)"))
        }
    }

    /// Every waiter, failed with `error` (the channel or connection is gone).
    mutating func failAll(_ error: AMQPError) -> [(Waiter, Outcome)] {
        let all = pending.keys.sorted().map { (pending[$0]!.waiter, Outcome.failed(error)) }
        pending.removeAll()
        lowestUnsettled = nextTag
        return all
    }

    private mutating func settle(_ tag: UInt64, multiple: Bool, _ outcome: (Pending) -> Outcome) -> [(Waiter, Outcome)] {
        var settled: [(Waiter, Outcome)] = []
        if multiple {
            var current = lowestUnsettled
            while current <= tag {
                if let entry = pending.removeValue(forKey: current) { settled.append((entry.waiter, outcome(entry))) }
                current += 1
            }
            lowestUnsettled = max(lowestUnsettled, tag + 1)
        } else if let entry = pending.removeValue(forKey: tag) {
            settled.append((entry.waiter, outcome(entry)))
        }
        while lowestUnsettled < nextTag, pending[lowestUnsettled] == nil { lowestUnsettled += 1 }
        return settled
    }
}

enum ConfirmOutcome {
    case confirmed
    case failed(AMQPError)
}

/// Who waits for a publisher confirm: one publish, or a batch of publishes
/// that resumes once, when the last of its messages is settled.
enum ConfirmWaiter {
    case one(@Sendable (Result<Void, AMQPError>) -> Void)
    case batch(ConfirmBatch)

    func settle(_ outcome: ConfirmOutcome) {
        switch (self, outcome) {
        case (.one(let completion), .confirmed): completion(.success(()))
        case (.one(let completion), .failed(let error)): completion(.failure(error))
        case (.batch(let batch), _): batch.settle(outcome)
        }
    }
}

/// The publishes of one `publish([…])` call. Touched only on the loop thread.
final class ConfirmBatch {
    private let continuation: CheckedContinuation<Void, any Error>
    private var registered = 0
    private var settled = 0
    private var sealed = false
    private var failure: AMQPError?

    init(_ continuation: CheckedContinuation<Void, any Error>) { self.continuation = continuation }

    func register() { registered += 1 }

    /// No more messages will join; `error` when writing one of them failed.
    func seal(failure error: AMQPError? = nil) {
        failure = failure ?? error
        sealed = true
        finishIfDone()
    }

    func settle(_ outcome: ConfirmOutcome) {
        settled += 1
        if case .failed(let error) = outcome { failure = failure ?? error }
        finishIfDone()
    }

    private func finishIfDone() {
        guard sealed, settled == registered else { return }
        if let failure { continuation.resume(throwing: failure) } else { continuation.resume() }
    }
}
