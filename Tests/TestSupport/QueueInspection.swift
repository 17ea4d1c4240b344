import AMQP

/// What tests ask a queue, on a channel of their own (a test's channel may be dead on purpose).
extension AMQPConnection {
    /// Ready messages in `queue` now.
    public func depth(of queue: String) async throws -> Int {
        let channel = try await openChannel()
        defer { Task { await channel.close() } }
        return Int(try await channel.declareQueue(queue, passive: true).messageCount)
    }

    /// Polls `queue` until its depth satisfies `done` (quorum queues update their
    /// counts asynchronously) or `timeout` passes; returns the last depth seen.
    public func waitForDepth(of queue: String, timeout: Duration = .seconds(30), until done: (Int) -> Bool) async throws -> Int {
        let deadline = ContinuousClock.now + timeout
        var current = try await depth(of: queue)
        while !done(current), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            current = try await depth(of: queue)
        }
        return current
    }

    /// Takes every message out of `queue` (acked), for inspection.
    public func drain(_ queue: String) async throws -> [AMQPDelivery] {
        let channel = try await openChannel()
        var messages: [AMQPDelivery] = []
        while let delivery = try await channel.get(queue: queue) {
            messages.append(delivery)
            try await channel.ack(delivery.deliveryTag)
        }
        await channel.close()
        return messages
    }
}
