import CRabbitMQ

/// An AMQP channel. Methods may be called from any task; they run in order
/// on the connection's thread. A channel the broker closed (404, 406, …)
/// stays dead: every later call throws an error with `isChannelDead`.
public final class AMQPChannel: Sendable {
    public let connection: AMQPConnection
    public let number: UInt16
    private var loop: ConnectionLoop { connection.loop }

    init(connection: AMQPConnection, number: UInt16) {
        self.connection = connection
        self.number = number
    }

    // MARK: Topology

    /// Declares a queue; with `passive`, only checks that it exists (404 when it does not).
    @discardableResult
    public func declareQueue(
        _ name: String, passive: Bool = false, durable: Bool = true, exclusive: Bool = false, autoDelete: Bool = false,
        arguments: AMQPTable = [:]
    ) async throws -> AMQPQueueState {
        let number = number
        return try await loop.perform { loop in
            try CArena.with { (arena: CArena) throws(AMQPError) in
                let ok = try loop.rpc(channel: number) { state in
                    amqp_queue_declare(
                        state, number, arena.bytes(name), passive ? 1 : 0, durable ? 1 : 0, exclusive ? 1 : 0,
                        autoDelete ? 1 : 0, arena.table(arguments))
                }
                return AMQPQueueState(name: CDecode.string(ok.queue), messageCount: ok.message_count, consumerCount: ok.consumer_count)
            }
        }
    }

    public func declareExchange(
        _ name: String, type: String = "direct", passive: Bool = false, durable: Bool = true, autoDelete: Bool = false,
        internal isInternal: Bool = false, arguments: AMQPTable = [:]
    ) async throws {
        let number = number
        try await loop.perform { loop in
            try CArena.with { (arena: CArena) throws(AMQPError) in
                _ = try loop.rpc(channel: number) { state in
                    amqp_exchange_declare(
                        state, number, arena.bytes(name), arena.bytes(type), passive ? 1 : 0, durable ? 1 : 0,
                        autoDelete ? 1 : 0, isInternal ? 1 : 0, arena.table(arguments))
                }
            }
        }
    }

    public func bindQueue(_ queue: String, exchange: String, routingKey: String, arguments: AMQPTable = [:]) async throws {
        let number = number
        try await loop.perform { loop in
            try CArena.with { (arena: CArena) throws(AMQPError) in
                _ = try loop.rpc(channel: number) { state in
                    amqp_queue_bind(state, number, arena.bytes(queue), arena.bytes(exchange), arena.bytes(routingKey), arena.table(arguments))
                }
            }
        }
    }

    /// Deletes a queue; returns how many messages it held.
    @discardableResult
    public func deleteQueue(_ name: String, ifUnused: Bool = false, ifEmpty: Bool = false) async throws -> UInt32 {
        let number = number
        return try await loop.perform { loop in
            try CArena.with { (arena: CArena) throws(AMQPError) in
                try loop.rpc(channel: number) { amqp_queue_delete($0, number, arena.bytes(name), ifUnused ? 1 : 0, ifEmpty ? 1 : 0) }
                    .message_count
            }
        }
    }

    /// Deletes an exchange (its bindings go with it).
    public func deleteExchange(_ name: String, ifUnused: Bool = false) async throws {
        let number = number
        try await loop.perform { loop in
            try CArena.with { (arena: CArena) throws(AMQPError) in
                _ = try loop.rpc(channel: number) { amqp_exchange_delete($0, number, arena.bytes(name), ifUnused ? 1 : 0) }
            }
        }
    }

    /// Removes every ready message from a queue; returns how many.
    @discardableResult
    public func purgeQueue(_ name: String) async throws -> UInt32 {
        let number = number
        return try await loop.perform { loop in
            try CArena.with { (arena: CArena) throws(AMQPError) in
                try loop.rpc(channel: number) { amqp_queue_purge($0, number, arena.bytes(name)) }.message_count
            }
        }
    }

    // MARK: Publishing

    /// Puts the channel in publisher-confirm mode: from now on `publish`
    /// returns only once the broker acked the message.
    public func enableConfirms() async throws {
        let number = number
        try await loop.perform { loop in
            _ = try loop.rpc(channel: number) { amqp_confirm_select($0, number) }
            let (_, channel) = try loop.liveChannel(number)
            if channel.confirms == nil { channel.confirms = ConfirmTracker() }
        }
    }

    /// Publishes a message. On a confirm channel this returns when the broker
    /// acked it, and throws when it was nacked or (with `mandatory`) returned
    /// unroutable. Call it from many tasks at once to keep many in flight.
    public func publish(
        _ body: [UInt8], exchange: String = "", routingKey: String, mandatory: Bool = false,
        properties: AMQPProperties = AMQPProperties()
    ) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            publish(body, exchange: exchange, routingKey: routingKey, mandatory: mandatory, properties: properties) { result in
                continuation.resume(with: result.mapError { $0 })
            }
        }
    }

    /// The same publish without suspending: `completion` runs once, on the
    /// connection's thread, when the broker confirms the message (at once on a
    /// channel without confirms) or when it fails. For callers that bound the
    /// wait themselves and want no task per message (the HTTP API).
    public func publish(
        _ body: [UInt8], exchange: String = "", routingKey: String, mandatory: Bool = false,
        properties: AMQPProperties = AMQPProperties(), completion: @escaping @Sendable (Result<Void, AMQPError>) -> Void
    ) {
        let number = number
        loop.enqueue({ loop in
            do throws(AMQPError) {
                let (state, channel) = try loop.liveChannel(number)
                try Self.basicPublish(
                    loop, state, number, body: body, exchange: exchange, routingKey: routingKey, mandatory: mandatory, properties: properties)
                // In place (`?.`): a copy of the tracker would copy every publish in flight.
                if channel.confirms != nil {
                    channel.confirms?.register(exchange: exchange, routingKey: routingKey, messageID: properties.messageID, waiter: .one(completion))
                } else {
                    completion(.success(()))
                }
            } catch {
                completion(.failure(error))
            }
        }, orFail: { completion(.failure($0)) })
    }

    /// Publishes several messages in one hand-over to the connection thread and
    /// returns when every one is confirmed (on a confirm channel); throws the
    /// first failure (nack, return, lost channel) once all are settled. Cheaper
    /// than one `publish` task per message when a worker publishes a window at once.
    public func publish(_ messages: [AMQPOutgoingMessage]) async throws {
        guard !messages.isEmpty else { return }
        let number = number
        try await loop.performDeferred { (loop, continuation: CheckedContinuation<Void, any Error>) in
            let batch = ConfirmBatch(continuation)
            do throws(AMQPError) {
                let (state, channel) = try loop.liveChannel(number)
                for message in messages {
                    try Self.basicPublish(
                        loop, state, number, body: message.body, exchange: message.exchange, routingKey: message.routingKey,
                        mandatory: message.mandatory, properties: message.properties)
                    if channel.confirms != nil {
                        batch.register()
                        channel.confirms?.register(
                            exchange: message.exchange, routingKey: message.routingKey, messageID: message.properties.messageID, waiter: .batch(batch))
                    }
                }
                batch.seal()
            } catch {
                batch.seal(failure: error)
            }
        }
    }

    /// One `basic.publish` on the loop thread (method, header and body frames).
    private static func basicPublish(
        _ loop: ConnectionLoop, _ state: amqp_connection_state_t, _ number: UInt16, body: [UInt8], exchange: String, routingKey: String,
        mandatory: Bool, properties: AMQPProperties
    ) throws(AMQPError) {
        let status = CArena.with { arena in
            var cProperties = arena.properties(properties)
            return body.withUnsafeBytes { raw in
                amqp_basic_publish(
                    state, number, arena.bytes(exchange), arena.bytes(routingKey), mandatory ? 1 : 0, 0,
                    &cProperties, amqp_bytes_t(len: raw.count, bytes: UnsafeMutableRawPointer(mutating: raw.baseAddress)))
            }
        }
        try loop.check(status, "publishing to '\(routingKey)'")
    }

    // MARK: Consuming

    /// How many unacknowledged deliveries the broker may send this channel's consumers.
    public func setPrefetch(_ count: UInt16) async throws {
        let number = number
        try await loop.perform { loop in
            _ = try loop.rpc(channel: number) { amqp_basic_qos($0, number, 0, count, 0) }
        }
    }

    /// Starts a consumer with manual acknowledgements. Deliveries arrive in
    /// the returned sequence; it ends with an error when the channel or the
    /// connection dies, and normally when the consumer is cancelled.
    public func consume(queue: String, consumerTag: String = "", exclusive: Bool = false, arguments: AMQPTable = [:]) async throws -> AMQPConsumer {
        let number = number
        let (stream, continuation) = DeliveryStream.makeStream()
        let tag = try await loop.perform { loop in
            try CArena.with { (arena: CArena) throws(AMQPError) in
                let ok = try loop.rpc(channel: number) { state in
                    amqp_basic_consume(state, number, arena.bytes(queue), arena.bytes(consumerTag), 0, 0, exclusive ? 1 : 0, arena.table(arguments))
                }
                let tag = CDecode.string(ok.consumer_tag)
                // Registered before the next frame is read, so no delivery can miss it.
                try loop.liveChannel(number).1.consumers[tag] = continuation
                return tag
            }
        }
        let loop = loop
        continuation.onTermination = { termination in
            guard case .cancelled = termination else { return }
            loop.fireAndForget { loop in Self.cancelConsumer(loop, channel: number, tag: tag) }
        }
        return AMQPConsumer(tag: tag, stream: stream)
    }

    /// Stops a consumer; deliveries already received stay unacknowledged until acked or the channel closes.
    public func cancel(consumerTag: String) async throws {
        let number = number
        try await loop.perform { loop in Self.cancelConsumer(loop, channel: number, tag: consumerTag) }
    }

    private static func cancelConsumer(_ loop: ConnectionLoop, channel number: UInt16, tag: String) {
        guard let (_, channel) = try? loop.liveChannel(number), let consumer = channel.consumers.removeValue(forKey: tag) else { return }
        _ = CArena.with { arena in try? loop.rpc(channel: number) { amqp_basic_cancel($0, number, arena.bytes(tag)) } }
        consumer.finish()
    }

    /// Fetches one message (`basic.get`), or nil when the queue is empty.
    public func get(queue: String, noAck: Bool = false) async throws -> AMQPDelivery? {
        let number = number
        return try await loop.perform { loop in
            let (state, _) = try loop.liveChannel(number)
            let reply = CArena.with { arena in amqp_basic_get(state, number, arena.bytes(queue), noAck ? 1 : 0) }
            loop.noteReply(reply)
            guard reply.reply_type == AMQP_RESPONSE_NORMAL else { throw loop.error(from: reply, channel: number) }
            guard reply.reply.id == MethodID.basicGetOK, let decoded = reply.reply.decoded else { return nil }
            let ok = decoded.load(as: amqp_basic_get_ok_t.self)
            let exchange = CDecode.string(ok.exchange)
            let routingKey = CDecode.string(ok.routing_key)
            let (properties, body) = try loop.readMessage(channel: number)
            return AMQPDelivery(
                deliveryTag: ok.delivery_tag, redelivered: ok.redelivered != 0, exchange: exchange, routingKey: routingKey,
                properties: properties, body: body, messagesRemaining: ok.message_count)
        }
    }

    public func ack(_ deliveryTag: UInt64, multiple: Bool = false) async throws {
        let number = number
        try await loop.perform { loop in
            let (state, _) = try loop.liveChannel(number)
            try loop.check(amqp_basic_ack(state, number, deliveryTag, multiple ? 1 : 0), "acknowledging")
        }
    }

    public func nack(_ deliveryTag: UInt64, multiple: Bool = false, requeue: Bool = true) async throws {
        let number = number
        try await loop.perform { loop in
            let (state, _) = try loop.liveChannel(number)
            try loop.check(amqp_basic_nack(state, number, deliveryTag, multiple ? 1 : 0, requeue ? 1 : 0), "rejecting")
        }
    }

    public func reject(_ deliveryTag: UInt64, requeue: Bool = true) async throws {
        let number = number
        try await loop.perform { loop in
            let (state, _) = try loop.liveChannel(number)
            try loop.check(amqp_basic_reject(state, number, deliveryTag, requeue ? 1 : 0), "rejecting")
        }
    }

    public func close() async {
        let number = number
        _ = try? await loop.perform { $0.closeChannel(number) }
    }
}

/// The deliveries of one consumer, in the order the broker sent them.
public struct AMQPConsumer: AsyncSequence, Sendable {
    public typealias Element = AMQPDelivery
    public let tag: String
    let stream: DeliveryStream

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: DeliveryStream.AsyncIterator
        public mutating func next() async throws -> AMQPDelivery? { try await base.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: stream.makeAsyncIterator()) }
}
