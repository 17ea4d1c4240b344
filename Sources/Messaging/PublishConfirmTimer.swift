import Metrics

/// `amqp_publish_confirm_seconds{publisher}`: from a publish to its broker
/// confirm (for a batch, to its last confirm), by publisher (the daemon, or
/// `outbox` for order-worker's relay). Made once per publisher.
public struct PublishConfirmTimer: Sendable {
    private let timer: Timer

    public init(publisher: String) {
        timer = Timer(label: "amqp_publish_confirm_seconds", dimensions: [("publisher", publisher)])
    }

    /// A confirm that arrived now, for a publish sent at `sent`.
    public func confirmed(sentAt sent: ContinuousClock.Instant) {
        timer.record(duration: ContinuousClock.now - sent)
    }
}
