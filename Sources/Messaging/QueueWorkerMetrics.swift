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

    /// Where a failed delivery's copy went, each counted by its own family.
    enum FailureRoute: String {
        /// To a retry queue, a retry counted.
        case retried = "worker_retries_total"
        /// To the DLQ: poison, or its retries spent.
        case deadLettered = "worker_dead_letters_total"
        /// To a retry queue without counting a retry (its dependency is away).
        case postponed = "worker_postponed_total"
    }

    /// Counts a failed delivery once its copy is confirmed: a window whose publish fails is
    /// redelivered and routed again, and would otherwise be counted twice.
    func routed(_ route: FailureRoute, reason: String) {
        Counter(label: route.rawValue, dimensions: [("queue", queue), ("reason", reason)]).increment()
    }
}
