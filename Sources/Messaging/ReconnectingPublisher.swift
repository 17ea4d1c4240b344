import AMQP
import Logging
import ServiceLifecycle
import ServiceSupport
import Synchronization

/// A confirm channel that reconnects on demand, for request/response callers
/// (the HTTP API). Publishes from many tasks share the channel, so many
/// confirms are in flight at once. When the broker is unreachable a publish
/// fails fast instead of hanging: the caller answers 503 and the client retries.
///
/// When the connection is lost, every publish whose confirm was outstanding
/// is sent again on the next connection (the next node of a cluster, see
/// ``AMQPConnection/connect(_:logger:)``) before its caller hears anything:
/// a caller gets success only for a confirmed message, and a lost node costs
/// it a reconnect, not a 503. The broker may already hold a message whose
/// confirm was lost with the connection, so the queue can get it twice; its
/// receivers are idempotent by message id (an order by its id).
///
/// A publish the broker nacks goes once more, on a new connection, before its
/// caller hears of it: a nack may mean the channel, not the message, is at
/// fault (``AMQPError/needsNewChannel``); a second nack is the caller's answer.
///
/// A `Service`: its `run` owns the connecting, the closing of dead channels
/// and the publish deadlines, so no publish leaves work behind in a task of
/// its own. Until `run` starts, a publish that needs a connection waits for it
/// and no deadline is enforced: run it in the daemon's ServiceGroup.
public final class ReconnectingPublisher: Service, Sendable {
    private let configuration: AMQPConfiguration
    private let logger: Logger
    private let deadlines = DeadlineWatch()
    /// `amqp_publish_confirm_seconds`, labelled with the connection's name (the
    /// daemon's): its publishes', and those of callers that publish on ``currentChannel()``.
    public let confirms: PublishConfirmTimer

    private struct State {
        /// The open channel, read without waiting by every publish.
        var channel: AMQPChannel?
        /// Callers waiting for a channel, answered by the run loop's next connect.
        var waiting: [Waiter] = []
        /// Channels that died, for the run loop to close.
        var dead: [AMQPChannel] = []
        /// The run loop, while it has nothing to do.
        var idle: CheckedContinuation<Void, Never>?
        var stopped = false
    }

    private let state = Mutex(State())

    struct Stopped: Error, CustomStringConvertible {
        var description: String { "the publisher is shutting down" }
    }

    public init(configuration: AMQPConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        confirms = PublishConfirmTimer(publisher: configuration.connectionName)
    }

    /// Connects at once (so the first request does not wait for it), then
    /// connects again whenever a caller needs a channel and there is none,
    /// until graceful shutdown.
    public func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.deadlines.run() }
            await withTaskCancellationHandler {
                await withGracefulShutdownHandler {
                    await self.maintainChannel()
                } onGracefulShutdown: {
                    self.stop()
                }
            } onCancel: {
                self.stop()
            }
            group.cancelAll()
        }
        await close()
    }

    private func maintainChannel() async {
        guard !state.withLock({ $0.stopped }) else { return }
        await connect(answering: [])
        while let work = await nextWork() {
            for channel in work.dead { await channel.connection.close() }
            if let channel = openChannel() {
                for waiter in work.waiting { waiter(.success(channel)) }
            } else if !work.waiting.isEmpty {
                await connect(answering: work.waiting)
            }
        }
    }

    private func openChannel() -> AMQPChannel? {
        guard let channel = state.withLock({ $0.channel }), channel.connection.isOpen else { return nil }
        return channel
    }

    private func connect(answering waiting: [Waiter]) async {
        let result: Result<AMQPChannel, any Error>
        do {
            let connection = try await AMQPConnection.connect(configuration, logger: logger)
            let channel = try await connection.openConfirmChannel()
            state.withLock { $0.channel = channel }
            logger.info("publisher connected", metadata: [LogKey.amqpURL: "\(connection.redactedURL)"])
            result = .success(channel)
        } catch {
            logger.warning("publisher cannot connect", metadata: [LogKey.error: "\(error)"])
            result = .failure(error)
        }
        // Callers that came while this attempt ran share its outcome rather than
        // wait for another attempt: a broker that is down fails them within one
        // connect timeout.
        let arrivedMeanwhile = state.withLock { state in
            defer { state.waiting.removeAll() }
            return state.waiting
        }
        for waiter in waiting + arrivedMeanwhile { waiter(result) }
    }

    private typealias Waiter = @Sendable (Result<AMQPChannel, any Error>) -> Void

    /// What the run loop has to do next: nil once stopped.
    private func nextWork() async -> (waiting: [Waiter], dead: [AMQPChannel])? {
        enum Next { case work([Waiter], [AMQPChannel]), stopped, nothing }
        while true {
            let next: Next = state.withLock { state in
                if state.stopped { return .stopped }
                guard !state.waiting.isEmpty || !state.dead.isEmpty else { return .nothing }
                defer { state.waiting.removeAll(); state.dead.removeAll() }
                return .work(state.waiting, state.dead)
            }
            switch next {
            case .work(let waiting, let dead): return (waiting, dead)
            case .stopped: return nil
            case .nothing: break
            }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { state in
                    guard state.waiting.isEmpty, state.dead.isEmpty, !state.stopped else { return true }
                    state.idle = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        }
    }

    /// Changes the state and wakes the run loop to look at it.
    private func update(_ change: (inout State) -> Void) {
        state.withLock { state in
            change(&state)
            return state.idle.take()
        }?.resume()
    }

    private func stop() {
        let waiting = state.withLock { state in
            defer { state.waiting.removeAll() }
            return state.waiting
        }
        update { $0.stopped = true }
        for waiter in waiting { waiter(.failure(Stopped())) }
    }

    /// Calls `body` with the open channel, or once the run loop has connected
    /// (or failed to).
    private func withChannel(_ body: @escaping Waiter) {
        if let channel = openChannel() { return body(.success(channel)) }
        var stopped = false
        update { state in
            if state.stopped { stopped = true } else { state.waiting.append(body) }
        }
        if stopped { body(.failure(Stopped())) }
    }

    /// The open channel, connecting first when there is none (one attempt shared by all callers).
    public func currentChannel() async throws -> AMQPChannel {
        try await withCheckedThrowingContinuation { continuation in
            withChannel { continuation.resume(with: $0) }
        }
    }

    /// Forgets a channel that died, so the next publish reconnects (callers
    /// that publish on `currentChannel()` themselves report one here).
    public func discard(_ dead: AMQPChannel) {
        update { state in
            guard let channel = state.channel, channel === dead else { return }
            state.channel = nil
            state.dead.append(dead)
        }
    }

    /// Publishes (mandatory) and waits for the confirm, at most `timeout`
    /// (connecting first included). A publish that timed out may still be
    /// confirmed later; its caller has answered by then. One that timed out
    /// while waiting for a connection is not sent.
    public func publish(_ body: [UInt8], routingKey: String, properties: AMQPProperties, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let wait = DeadlineWatch.Wait(continuation, timeout: timeout, deadline: deadline)
            guard deadlines.watch(wait) else { return }
            deliver(Outgoing(body: body, routingKey: routingKey, properties: properties), answering: wait)
        }
    }

    /// A message on its way, and whether a nack already sent it again.
    private struct Outgoing: Sendable {
        let body: [UInt8]
        let routingKey: String
        let properties: AMQPProperties
        var nackedOnce = false
    }

    /// Sends on the open channel, or on the next one the run loop connects;
    /// a failure to connect answers the caller.
    private func deliver(_ message: Outgoing, answering wait: DeadlineWatch.Wait) {
        if let channel = openChannel() {
            send(message, on: channel, answering: wait)
            return
        }
        withChannel { result in
            switch result {
            case .success(let channel):
                guard !wait.isAnswered else { return }
                self.send(message, on: channel, answering: wait)
            case .failure(let error):
                wait.answer(.failure(error))
            }
        }
    }

    private func send(_ message: Outgoing, on channel: AMQPChannel, answering wait: DeadlineWatch.Wait) {
        let sent = ContinuousClock.now
        channel.publish(message.body, routingKey: message.routingKey, mandatory: true, properties: message.properties) { result in
            switch result {
            case .success:
                self.confirms.confirmed(sentAt: sent)
            case .failure(let error):
                if error.needsNewChannel { self.discard(channel) }
                // Unconfirmed, not refused: the broker went away with the message
                // in flight. Again on the next connection while the caller waits.
                if error.isConnectionDead, !wait.isAnswered {
                    self.logger.debug("republishing an unconfirmed message", metadata: [LogKey.error: "\(error)"])
                    self.deliver(message, answering: wait)
                    return
                }
                if error.kind == .nacked, !message.nackedOnce, !wait.isAnswered {
                    self.logger.debug("republishing a nacked message on a new channel", metadata: [LogKey.error: "\(error)"])
                    var again = message
                    again.nackedOnce = true
                    self.deliver(again, answering: wait)
                    return
                }
            }
            wait.answer(result.mapError { $0 })
        }
    }

    public func close() async {
        let channel = state.withLock { state in
            defer { state.channel = nil }
            return state.channel
        }
        if let channel { await channel.connection.close() }
    }
}
