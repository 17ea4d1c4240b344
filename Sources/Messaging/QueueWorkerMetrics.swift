import Metrics

/// What a ``QueueWorker`` counts, by its main queue (the prefixed name, so
/// the workers of one process stay apart): windows (size, the handler's
/// time), deliveries handled, its confirms' latency, and the failures it
/// routes (counted as it routes them) by the handler's reason. The
/// per-window metrics are made once, here; a failure's counter is looked up
/// when one happens, since reasons are the handlers' slugs and failures are
/// off the hot path.
struct QueueWorkerMetrics: Sendable {
    let queue: String
    let windowSize: Recorder
    let windowSeconds: Timer
    let messages: Counter
    let confirms: PublishConfirmTimer

    init(queue: String, publisher: String) {
        self.queue = queue
        let dimensions = [("queue", queue)]
        windowSize = Recorder(label: "worker_window_size", dimensions: dimensions)
        windowSeconds = Timer(label: "worker_window_seconds", dimensions: dimensions)
        messages = Counter(label: "worker_messages_total", dimensions: dimensions)
        confirms = PublishConfirmTimer(publisher: publisher)
    }

    /// A window the handler took `duration` over.
    func handled(_ size: Int, in duration: Duration) {
        windowSize.record(size)
        windowSeconds.record(duration: duration)
    }

    /// A window whose deliveries are acked.
    func finished(_ size: Int) {
        messages.increment(by: size)
    }

    /// A delivery routed to a retry queue (a retry counted).
    func retried(_ reason: String) { failure("worker_retries_total", reason) }

    /// A delivery routed to the DLQ: poison, or its retries spent.
    func deadLettered(_ reason: String) { failure("worker_dead_letters_total", reason) }

    /// A delivery routed to a retry queue without counting a retry (its dependency is away).
    func postponed(_ reason: String) { failure("worker_postponed_total", reason) }

    private func failure(_ label: String, _ reason: String) {
        Counter(label: label, dimensions: [("queue", queue), ("reason", reason)]).increment()
    }
}
