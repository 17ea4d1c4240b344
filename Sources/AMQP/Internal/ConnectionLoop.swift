import CRabbitMQ
import CRabbitMQShims
import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// librabbitmq method ids (the header defines them as casts Swift cannot import).
enum MethodID {
    static let connectionClose: UInt32 = 0x000A_0032
    static let connectionCloseOK: UInt32 = 0x000A_0033
    static let connectionBlocked: UInt32 = 0x000A_003C
    static let connectionUnblocked: UInt32 = 0x000A_003D
    static let channelClose: UInt32 = 0x0014_0028
    static let channelCloseOK: UInt32 = 0x0014_0029
    static let basicCancel: UInt32 = 0x003C_001E
    static let basicReturn: UInt32 = 0x003C_0032
    static let basicDeliver: UInt32 = 0x003C_003C
    static let basicGetOK: UInt32 = 0x003C_0047
    static let basicGetEmpty: UInt32 = 0x003C_0048
    static let basicAck: UInt32 = 0x003C_0050
    static let basicNack: UInt32 = 0x003C_0078
}

typealias DeliveryStream = AsyncThrowingStream<AMQPDelivery, any Error>

/// What the loop knows about one open channel. Touched only on the loop thread.
final class ChannelState {
    let number: UInt16
    var confirms: ConfirmTracker<ConfirmWaiter>?
    var consumers: [String: DeliveryStream.Continuation] = [:]

    init(number: UInt16) { self.number = number }
}

/// One librabbitmq connection and the thread that owns it.
///
/// librabbitmq is not thread-safe, so every call on the connection happens on
/// this one thread. Callers hand it commands (closures) through a locked inbox
/// and a self-pipe that wakes the thread from `poll`. Between commands the
/// thread reads frames: deliveries go to consumer streams, confirms and
/// returns to the publishes waiting for them, broker-initiated closes fail
/// what depended on the channel or connection. Because the thread polls with
/// a timeout shorter than half the heartbeat and reads through librabbitmq,
/// heartbeats flow whatever the callers do.
final class ConnectionLoop: @unchecked Sendable {
    private struct Inbox {
        var commands: [@Sendable (ConnectionLoop) -> Void] = []
        var closedError: AMQPError?
    }

    let configuration: AMQPConfiguration
    let logger: Logger
    private let inbox = Mutex(Inbox())
    /// A self-pipe: commands write a byte so `poll` wakes up.
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let closeWaiters = Mutex<(error: AMQPError?, waiters: [CheckedContinuation<AMQPError, Never>])>((nil, []))

    // Loop-thread state.
    private var state: amqp_connection_state_t?
    private var channels: [UInt16: ChannelState] = [:]
    private var nextChannel: UInt16 = 1
    private var lastReceive = ContinuousClock.now
    /// The node this connection landed on.
    private var endpoint: AMQPConfiguration.Endpoint?

    private init(configuration: AMQPConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        var fds: [Int32] = [0, 0]
        if pipe(&fds) != 0 { fatalError("pipe failed: errno \(errno)") }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        (wakeRead, wakeWrite) = (fds[0], fds[1])
    }

    deinit {
        close(wakeRead)
        close(wakeWrite)
    }

    /// Starts the thread, connects and logs in on it: to the first of the
    /// configuration's endpoints that takes the connection, in ``EndpointOrder``.
    static func connect(configuration: AMQPConfiguration, logger: Logger) async throws -> (ConnectionLoop, AMQPConfiguration.Endpoint) {
        let loop = ConnectionLoop(configuration: configuration, logger: logger)
        let endpoint = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<AMQPConfiguration.Endpoint, any Error>) in
            let thread = Thread { loop.run(connected: continuation) }
            thread.name = "amqp-\(configuration.connectionName)"
            thread.stackSize = 1 << 20
            thread.start()
        }
        return (loop, endpoint)
    }

    // MARK: Commands (any thread)

    /// Runs `operation` on the loop thread and returns its result.
    func perform<T: Sendable>(_ operation: @escaping @Sendable (ConnectionLoop) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            enqueue { loop in
                do { continuation.resume(returning: try operation(loop)) } catch { continuation.resume(throwing: error) }
            } orFail: { continuation.resume(throwing: $0) }
        }
    }

    /// Runs `operation` on the loop thread; it resumes the continuation itself,
    /// now or later (a publish resumes when its confirm arrives).
    func performDeferred<T: Sendable>(
        _ operation: @escaping @Sendable (ConnectionLoop, CheckedContinuation<T, any Error>) -> Void
    ) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            enqueue { loop in operation(loop, continuation) } orFail: { continuation.resume(throwing: $0) }
        }
    }

    /// Queues a command without waiting for it (used from stream termination handlers).
    func fireAndForget(_ operation: @escaping @Sendable (ConnectionLoop) -> Void) {
        enqueue(operation) { _ in }
    }

    /// Queues a command; `orFail` runs instead, at once, when the connection is closed.
    func enqueue(_ command: @escaping @Sendable (ConnectionLoop) -> Void, orFail: (AMQPError) -> Void) {
        let (refused, wake): (AMQPError?, Bool) = inbox.withLock { inbox in
            if let error = inbox.closedError { return (error, false) }
            inbox.commands.append(command)
            // Commands already waiting means a wake-up is already on its way and
            // the loop takes every queued command at once: one write per burst.
            return (nil, inbox.commands.count == 1)
        }
        if let refused { orFail(refused); return }
        guard wake else { return }
        var one: UInt8 = 1
        _ = write(wakeWrite, &one, 1)  // a full pipe is fine: the loop is awake already
    }

    var isOpen: Bool { inbox.withLock { $0.closedError == nil } }

    /// Waits until the connection is gone and returns why.
    func waitUntilClosed() async -> AMQPError {
        await withCheckedContinuation { continuation in
            let already: AMQPError? = closeWaiters.withLock { box in
                if let error = box.error { return error }
                box.waiters.append(continuation)
                return nil
            }
            if let already { continuation.resume(returning: already) }
        }
    }

    // MARK: The thread

    private func run(connected: CheckedContinuation<AMQPConfiguration.Endpoint, any Error>) {
        do throws(AMQPError) {
            connected.resume(returning: try openConnection())
        } catch {
            markClosed(error)
            connected.resume(throwing: error)
            return
        }
        while state != nil {
            runCommands()
            guard state != nil else { break }
            pumpFrames()
            guard state != nil else { break }
            waitForWork()
        }
    }

    private func runCommands() {
        let commands = inbox.withLock { inbox in
            defer { inbox.commands.removeAll(keepingCapacity: true) }
            return inbox.commands
        }
        for command in commands { command(self) }
        if let state { amqp_maybe_release_buffers(state) }
    }

    /// Reads every frame that is already there, without blocking.
    private func pumpFrames() {
        while let state {
            var frame = amqp_frame_t()
            var immediately = timeval(tv_sec: 0, tv_usec: 0)
            let status = amqp_simple_wait_frame_noblock(state, &frame, &immediately)
            if status == AMQP_STATUS_TIMEOUT.rawValue { break }
            guard status == AMQP_STATUS_OK.rawValue else {
                teardown(Self.libraryError(status, context: "reading from the broker"))
                return
            }
            lastReceive = .now
            dispatch(frame, state: state)
        }
        if let state { amqp_maybe_release_buffers(state) }
    }

    private func waitForWork() {
        guard let state else { return }
        if amqp_frames_enqueued(state) != 0 || amqp_data_in_buffer(state) != 0 { return }
        let heartbeat = amqp_get_heartbeat(state)
        var fds = [
            pollfd(fd: amqp_get_sockfd(state), events: Int16(POLLIN), revents: 0),
            pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0),
        ]
        let timeout = heartbeat > 0 ? max(100, Int32(heartbeat) * 1000 / 3) : 1000
        _ = poll(&fds, 2, timeout)
        if fds[1].revents != 0 {
            var drain = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
            while read(wakeRead, &drain, MemoryLayout.size(ofValue: drain)) > 0 {}
        }
        if fds[0].revents != 0 { lastReceive = .now }
        // librabbitmq only notices a silent broker inside a blocking wait; we never block in it.
        // RabbitMQ may leave up to two intervals between its heartbeats, so allow three.
        if heartbeat > 0, ContinuousClock.now - lastReceive > .seconds(Int(heartbeat) * 3 + 1) {
            teardown(AMQPError(kind: .connectionFailed, message: "missed heartbeats from the broker", libraryStatus: AMQP_STATUS_HEARTBEAT_TIMEOUT.rawValue))
        }
    }

    // MARK: Connecting and closing

    /// Tries the endpoints in turn, each within the connect timeout; the
    /// error when none takes the connection names every node's cause.
    private func openConnection() throws(AMQPError) -> AMQPConfiguration.Endpoint {
        let several = configuration.endpoints.count > 1
        var failures: [(endpoint: AMQPConfiguration.Endpoint, error: AMQPError)] = []
        for endpoint in EndpointOrder.attempts(for: configuration.endpoints) {
            do throws(AMQPError) {
                try open(endpoint)
            } catch {
                EndpointOrder.failed(endpoint)
                if several {
                    logger.warning("amqp node unreachable", metadata: ["amqp_url": "\(configuration.redactedURL(of: endpoint))", "error": "\(error)"])
                }
                failures.append((endpoint, error))
                continue
            }
            EndpointOrder.succeeded(endpoint)
            self.endpoint = endpoint
            // With several nodes, which one a connection landed on is worth a line at the default level.
            logger.log(
                level: several ? .info : .debug, "amqp connected",
                metadata: [
                    "amqp_url": "\(configuration.redactedURL(of: endpoint))", "amqp_connection": "\(configuration.connectionName)",
                    "amqp_heartbeat": "\(state.map { amqp_get_heartbeat($0) } ?? 0)",
                ])
            return endpoint
        }
        guard failures.count > 1 else { throw failures[0].error }
        let causes = failures.map { "\(configuration.redactedURL(of: $0.endpoint)): \($0.error.message)" }
        let first = failures[0].error
        let agree = failures.allSatisfy { $0.error.kind == first.kind && $0.error.replyCode == first.replyCode }
        throw AMQPError(
            kind: agree ? first.kind : .connectionFailed, replyCode: agree ? first.replyCode : nil,
            message: "no AMQP node took the connection (\(failures.count) tried): " + causes.joined(separator: "; "),
            libraryStatus: agree ? failures.last?.error.libraryStatus : nil)
    }

    /// Connects and logs in to one node.
    private func open(_ endpoint: AMQPConfiguration.Endpoint) throws(AMQPError) {
        guard let state = amqp_new_connection() else {
            throw AMQPError(kind: .library, message: "could not allocate a connection")
        }
        guard let socket = amqp_tcp_socket_new(state) else {
            amqp_destroy_connection(state)
            throw AMQPError(kind: .library, message: "could not allocate a socket")
        }
        var connectTimeout = Self.cTimeval(configuration.connectTimeout)
        let opened = endpoint.host.withCString { amqp_socket_open_noblock(socket, $0, Int32(endpoint.port), &connectTimeout) }
        guard opened == AMQP_STATUS_OK.rawValue else {
            amqp_destroy_connection(state)
            let cause = Self.libraryError(opened, context: "connecting")
            throw AMQPError(kind: .connectionFailed, message: "cannot connect to \(endpoint): \(cause.message)", libraryStatus: opened)
        }
        var handshakeTimeout = Self.cTimeval(configuration.connectTimeout)
        amqp_set_handshake_timeout(state, &handshakeTimeout)
        var rpcTimeout = Self.cTimeval(configuration.rpcTimeout)
        amqp_set_rpc_timeout(state, &rpcTimeout)

        let clientProperties: AMQPTable = [
            "connection_name": .string(configuration.connectionName),
            "capabilities": [
                "publisher_confirms": true, "basic.nack": true, "consumer_cancel_notify": true,
                "connection.blocked": true, "authentication_failure_close": true,
            ],
        ]
        let reply = CArena.with { arena in
            crabbitmq_login_plain(
                state, configuration.vhost, Int32(configuration.channelMax), Int32(configuration.frameMax),
                Int32(configuration.heartbeat), arena.table(clientProperties), configuration.user, configuration.password)
        }
        guard reply.reply_type == AMQP_RESPONSE_NORMAL else {
            let error = loginError(reply, state: state)
            amqp_destroy_connection(state)
            throw error
        }
        self.state = state
        lastReceive = .now
    }

    private func loginError(_ reply: amqp_rpc_reply_t, state: amqp_connection_state_t) -> AMQPError {
        if reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION, reply.reply.id == MethodID.connectionClose,
            let close = reply.reply.decoded?.load(as: amqp_connection_close_t.self)
        {
            let code = AMQPError.ReplyCode(rawValue: Int(close.reply_code))
            // During login (we ask for authentication_failure_close) 403 means the
            // credentials were refused; the broker's text does not say so plainly.
            let why = code == .accessRefused ? "the user name or password is wrong: " : ""
            return AMQPError(
                kind: .connectionClosed, replyCode: code,
                message: "login as '\(configuration.user)' to vhost '\(configuration.vhost)' refused: \(why)\(CDecode.string(close.reply_text))")
        }
        if reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION {
            let cause = Self.libraryError(reply.library_error, context: "logging in")
            return AMQPError(kind: .connectionFailed, message: "login as '\(configuration.user)' to vhost '\(configuration.vhost)' failed: \(cause.message)", libraryStatus: reply.library_error)
        }
        return AMQPError(kind: .connectionFailed, message: "login failed")
    }

    /// Closes the connection politely (connection.close) and ends the thread.
    func closeConnection() {
        guard let state else { return }
        _ = amqp_connection_close(state, AMQP_REPLY_SUCCESS)
        teardown(AMQPError(kind: .connectionClosed, replyCode: .init(rawValue: 200), message: "connection closed by the client"), graceful: true)
    }

    /// Frees the connection and fails everything that waited on it. Idempotent.
    private func teardown(_ error: AMQPError, graceful: Bool = false) {
        guard let state else { return }
        self.state = nil
        for channel in channels.values { fail(channel, error, graceful: graceful) }
        channels.removeAll()
        amqp_destroy_connection(state)
        if !graceful {
            if let endpoint { EndpointOrder.failed(endpoint) }
            logger.warning("amqp connection lost", metadata: [
                "amqp_url": "\(endpoint.map(configuration.redactedURL(of:)) ?? configuration.redactedURL)", "error": "\(error)",
            ])
        }
        markClosed(error)
    }

    private func markClosed(_ error: AMQPError) {
        let stranded = inbox.withLock { inbox in
            inbox.closedError = inbox.closedError ?? error
            defer { inbox.commands.removeAll() }
            return inbox.commands
        }
        // Queued commands find `state == nil` and fail with the connection error.
        for command in stranded { command(self) }
        let waiters = closeWaiters.withLock { box in
            box.error = box.error ?? error
            defer { box.waiters.removeAll() }
            return box.waiters
        }
        for waiter in waiters { waiter.resume(returning: error) }
    }

    private func fail(_ channel: ChannelState, _ error: AMQPError, graceful: Bool) {
        for (waiter, outcome) in channel.confirms?.failAll(error) ?? [] { waiter.settle(outcome) }
        for consumer in channel.consumers.values {
            if graceful { consumer.finish() } else { consumer.finish(throwing: error) }
        }
        channel.consumers.removeAll()
    }

    // MARK: Access for commands (loop thread only)

    var closedError: AMQPError {
        inbox.withLock { $0.closedError } ?? AMQPError(kind: .connectionClosed, message: "connection is closed")
    }

    func liveState() throws(AMQPError) -> amqp_connection_state_t {
        guard let state else { throw closedError }
        return state
    }

    func liveChannel(_ number: UInt16) throws(AMQPError) -> (amqp_connection_state_t, ChannelState) {
        let state = try liveState()
        guard let channel = channels[number] else {
            throw AMQPError(kind: .channelClosed, message: "channel \(number) is closed")
        }
        return (state, channel)
    }

    func openChannel() throws(AMQPError) -> UInt16 {
        let state = try liveState()
        let limit = UInt16(clamping: max(1, Int(amqp_get_channel_max(state)) > 0 ? Int(amqp_get_channel_max(state)) : 2047))
        var candidate = nextChannel
        for _ in 0..<limit {
            if channels[candidate] == nil { break }
            candidate = candidate >= limit ? 1 : candidate + 1
        }
        guard channels[candidate] == nil else {
            throw AMQPError(kind: .invalidArgument, message: "no free channel (limit \(limit))")
        }
        nextChannel = candidate >= limit ? 1 : candidate + 1
        channels[candidate] = ChannelState(number: candidate)
        do {
            _ = try rpc(channel: candidate) { amqp_channel_open($0, candidate) }
        } catch {
            channels[candidate] = nil
            throw error
        }
        return candidate
    }

    func closeChannel(_ number: UInt16) {
        guard let state, let channel = channels[number] else { return }
        let reply = amqp_channel_close(state, number, AMQP_REPLY_SUCCESS)
        fail(channel, AMQPError(kind: .channelClosed, replyCode: .init(rawValue: 200), message: "channel closed by the client"), graceful: true)
        channels[number] = nil
        if reply.reply_type != AMQP_RESPONSE_NORMAL { _ = error(from: reply, channel: number) }
    }

    /// Calls a synchronous librabbitmq method (declare, consume, …) on a channel.
    /// A nil result means the broker answered with a close, or the library failed:
    /// that is turned into an `AMQPError` and the dead channel or connection is cleaned up.
    func rpc<T>(channel number: UInt16, _ call: (amqp_connection_state_t) -> UnsafeMutablePointer<T>?) throws(AMQPError) -> T {
        let (state, _) = try liveChannel(number)
        let result = call(state)
        let reply = amqp_get_rpc_reply(state)
        noteReply(reply)
        if let result { return result.pointee }
        throw error(from: reply, channel: number)
    }

    /// librabbitmq reads an RPC's reply inside the blocking call, where `poll`
    /// never sees it: a reply (or the broker's refusal) shows the broker is
    /// alive. What we only write (publishes, acks) shows nothing.
    func noteReply(_ reply: amqp_rpc_reply_t) {
        if reply.reply_type == AMQP_RESPONSE_NORMAL || reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION { lastReceive = .now }
    }

    /// Checks the status of a librabbitmq call that only writes (publish, ack, …).
    func check(_ status: Int32, _ context: String) throws(AMQPError) {
        guard status != AMQP_STATUS_OK.rawValue else { return }
        let error = Self.libraryError(status, context: context)
        if error.isConnectionDead { teardown(error) }
        throw error
    }

    func error(from reply: amqp_rpc_reply_t, channel number: UInt16) -> AMQPError {
        switch reply.reply_type {
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            if reply.reply.id == MethodID.channelClose, let close = reply.reply.decoded?.load(as: amqp_channel_close_t.self) {
                let error = AMQPError(kind: .channelClosed, replyCode: .init(rawValue: Int(close.reply_code)), message: CDecode.string(close.reply_text))
                brokerClosedChannel(number, error)
                return error
            }
            if reply.reply.id == MethodID.connectionClose, let close = reply.reply.decoded?.load(as: amqp_connection_close_t.self) {
                let error = AMQPError(kind: .connectionClosed, replyCode: .init(rawValue: Int(close.reply_code)), message: CDecode.string(close.reply_text))
                brokerClosedConnection(error)
                return error
            }
            return AMQPError(kind: .library, message: "unexpected reply method 0x\(String(reply.reply.id, radix: 16))")
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            let error = Self.libraryError(reply.library_error, context: "waiting for the broker's reply")
            if error.isConnectionDead { teardown(error) }
            return error
        default:
            let error = AMQPError(kind: .connectionFailed, message: "the broker closed the socket")
            teardown(error)
            return error
        }
    }

    private func brokerClosedChannel(_ number: UInt16, _ error: AMQPError) {
        if let state {
            var ok = amqp_channel_close_ok_t()
            _ = amqp_send_method(state, number, MethodID.channelCloseOK, &ok)
        }
        if let channel = channels.removeValue(forKey: number) { fail(channel, error, graceful: false) }
    }

    private func brokerClosedConnection(_ error: AMQPError) {
        if let state {
            var ok = amqp_connection_close_ok_t()
            _ = amqp_send_method(state, 0, MethodID.connectionCloseOK, &ok)
        }
        teardown(error)
    }

    /// Reads the header and body frames that follow a deliver, get-ok or return.
    func readMessage(channel number: UInt16) throws(AMQPError) -> (AMQPProperties, [UInt8]) {
        let state = try liveState()
        var message = amqp_message_t()
        let reply = amqp_read_message(state, number, &message, 0)
        guard reply.reply_type == AMQP_RESPONSE_NORMAL else {
            throw error(from: reply, channel: number)
        }
        defer { amqp_destroy_message(&message) }
        return (CDecode.properties(message.properties), CDecode.bytes(message.body))
    }

    // MARK: Incoming frames

    private func dispatch(_ frame: amqp_frame_t, state: amqp_connection_state_t) {
        guard frame.frame_type == UInt8(AMQP_FRAME_METHOD), let decoded = frame.payload.method.decoded else { return }
        let number = frame.channel
        switch frame.payload.method.id {
        case MethodID.basicDeliver:
            let deliver = decoded.load(as: amqp_basic_deliver_t.self)
            let tag = CDecode.string(deliver.consumer_tag)
            let deliveryTag = deliver.delivery_tag
            let redelivered = deliver.redelivered != 0
            let exchange = CDecode.string(deliver.exchange)
            let routingKey = CDecode.string(deliver.routing_key)
            guard let (properties, body) = try? readMessage(channel: number) else { return }
            let delivery = AMQPDelivery(
                deliveryTag: deliveryTag, redelivered: redelivered, exchange: exchange, routingKey: routingKey,
                properties: properties, body: body)
            if let consumer = channels[number]?.consumers[tag] {
                consumer.yield(delivery)
            } else {
                logger.debug("delivery for an unknown consumer", metadata: ["amqp_consumer": "\(tag)"])
            }

        case MethodID.basicAck:
            let ack = decoded.load(as: amqp_basic_ack_t.self)
            settleConfirms(number) { $0.ack(ack.delivery_tag, multiple: ack.multiple != 0) }

        case MethodID.basicNack:
            let nack = decoded.load(as: amqp_basic_nack_t.self)
            settleConfirms(number) { $0.nack(nack.delivery_tag, multiple: nack.multiple != 0) }

        case MethodID.basicReturn:
            let returned = decoded.load(as: amqp_basic_return_t.self)
            let code = Int(returned.reply_code)
            let text = CDecode.string(returned.reply_text)
            let exchange = CDecode.string(returned.exchange)
            let routingKey = CDecode.string(returned.routing_key)
            guard let (properties, _) = try? readMessage(channel: number) else { return }
            let error = AMQPError(
                kind: .returned, replyCode: .init(rawValue: code),
                message: "message returned by the broker: \(text) (exchange '\(exchange)', routing key '\(routingKey)')")
            channels[number]?.confirms?.returned(exchange: exchange, routingKey: routingKey, messageID: properties.messageID, error: error)

        case MethodID.basicCancel:
            let cancel = decoded.load(as: amqp_basic_cancel_t.self)
            let tag = CDecode.string(cancel.consumer_tag)
            if let consumer = channels[number]?.consumers.removeValue(forKey: tag) {
                consumer.finish(throwing: AMQPError(kind: .channelClosed, message: "the broker cancelled consumer '\(tag)' (was its queue deleted?)"))
            }

        case MethodID.channelClose:
            let close = decoded.load(as: amqp_channel_close_t.self)
            brokerClosedChannel(number, AMQPError(kind: .channelClosed, replyCode: .init(rawValue: Int(close.reply_code)), message: CDecode.string(close.reply_text)))

        case MethodID.connectionClose:
            let close = decoded.load(as: amqp_connection_close_t.self)
            brokerClosedConnection(AMQPError(kind: .connectionClosed, replyCode: .init(rawValue: Int(close.reply_code)), message: CDecode.string(close.reply_text)))

        case MethodID.connectionBlocked:
            let blocked = decoded.load(as: amqp_connection_blocked_t.self)
            logger.warning("broker blocked publishing on this connection", metadata: ["reason": "\(CDecode.string(blocked.reason))"])

        case MethodID.connectionUnblocked:
            logger.info("broker unblocked publishing on this connection")

        default:
            logger.debug("ignored AMQP method", metadata: ["amqp_method": "0x\(String(frame.payload.method.id, radix: 16))"])
        }
    }

    private func settleConfirms(
        _ number: UInt16,
        _ settle: (inout ConfirmTracker<ConfirmWaiter>) -> [(ConfirmWaiter, ConfirmOutcome)]
    ) {
        // Mutated in place: copying the tracker out would copy every publish in flight per confirm.
        guard let channel = channels[number], channel.confirms != nil else { return }
        let settled = settle(&channel.confirms!)
        for (waiter, outcome) in settled { waiter.settle(outcome) }
    }

    // MARK: Helpers

    static func libraryError(_ status: Int32, context: String) -> AMQPError {
        let text = String(cString: amqp_error_string2(status))
        let kind: AMQPError.Kind
        switch status {
        case AMQP_STATUS_TIMEOUT.rawValue: kind = .timeout
        case AMQP_STATUS_CONNECTION_CLOSED.rawValue, AMQP_STATUS_SOCKET_ERROR.rawValue, AMQP_STATUS_SOCKET_CLOSED.rawValue,
            AMQP_STATUS_HEARTBEAT_TIMEOUT.rawValue, AMQP_STATUS_TCP_ERROR.rawValue,
            AMQP_STATUS_HOSTNAME_RESOLUTION_FAILED.rawValue, AMQP_STATUS_BAD_AMQP_DATA.rawValue,
            AMQP_STATUS_UNEXPECTED_STATE.rawValue:
            kind = .connectionFailed
        case AMQP_STATUS_INVALID_PARAMETER.rawValue, AMQP_STATUS_TABLE_TOO_BIG.rawValue: kind = .invalidArgument
        default: kind = .library
        }
        return AMQPError(kind: kind, message: "\(context): \(text)", libraryStatus: status)
    }

    static func cTimeval(_ duration: Duration) -> timeval {
        let (seconds, attoseconds) = duration.components
        return timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }
}
