import AMQP

/// A queue or exchange whose live state differs from the code.
public struct TopologyMismatch: Sendable, Hashable, CustomStringConvertible {
    public enum Problem: Sendable, Hashable {
        case missing
        /// The broker refused the redeclare (406) because this argument differs.
        case argumentDiffers(argument: String)
        case exchangeMissing
        /// The broker refused the redeclare (406): its type or durability differs.
        case exchangeDiffers
        /// A queue is not bound to its exchange with the routing key the code binds it with.
        case bindingMissing(exchange: String, routingKey: String)
    }

    /// The queue's or exchange's name.
    public let name: String
    public let problem: Problem
    /// The broker's own words.
    public let detail: String

    public var description: String {
        switch problem {
        case .missing: "queue '\(name)' does not exist"
        case .argumentDiffers(let argument): "queue '\(name)': argument '\(argument)' differs from the code (\(detail))"
        case .exchangeMissing: "exchange '\(name)' does not exist"
        case .exchangeDiffers: "exchange '\(name)' differs from the code (\(detail))"
        case .bindingMissing(let exchange, let routingKey): "queue '\(name)' is not bound to exchange '\(exchange)' with '\(routingKey)'"
        }
    }
}

extension Topology {
    /// Declares every exchange, then every queue, then every binding. Idempotent: declaring what exists with the same arguments changes nothing.
    /// A queue that exists with other arguments makes the broker answer 406; that error names the queue and argument.
    ///
    /// With `recreateEmptyDeadLetterQueues`, a dead-letter queue whose arguments
    /// differ is deleted and declared again when it holds no message and has no
    /// consumer (how the DLQs of an older topology take the current arguments).
    /// RabbitMQ 3.x quorum queues refuse `queue.delete` with if-empty, so the
    /// check and the delete are two steps: a message dead-lettered between them
    /// would be lost, which is why this is asked for, not done by default.
    /// Returns the queues recreated.
    @discardableResult
    public func declare(on connection: AMQPConnection, recreateEmptyDeadLetterQueues: Bool = false) async throws -> [String] {
        var channel = try await connection.openChannel()
        for exchange in exchanges {
            do {
                try await channel.declareExchange(exchange.name, type: exchange.type, durable: exchange.durable)
            } catch let error as AMQPError where error.replyCode == .preconditionFailed {
                throw TopologyError.mismatch(TopologyMismatch(name: exchange.name, problem: .exchangeDiffers, detail: error.message))
            } catch {
                await channel.close()
                throw error
            }
        }
        var recreated: [String] = []
        for queue in queues {
            do {
                try await channel.declareQueue(queue.name, durable: queue.durable, arguments: queue.arguments)
            } catch let error as AMQPError where error.replyCode == .preconditionFailed {
                // The 406 closed the channel.
                let mismatch = Self.mismatch(queue: queue.name, error: error)
                guard queue.role == .deadLetter else { throw TopologyError.mismatch(mismatch) }
                try await recreateEmpty(queue, mismatch, allowed: recreateEmptyDeadLetterQueues, on: connection)
                recreated.append(queue.name)
                channel = try await connection.openChannel()
            } catch {
                await channel.close()
                throw error
            }
        }
        for binding in bindings {
            do {
                try await channel.bindQueue(binding.queue, exchange: binding.exchange, routingKey: binding.routingKey)
            } catch {
                await channel.close()
                throw error
            }
        }
        await channel.close()
        return recreated
    }

    /// Deletes and declares again a dead-letter queue whose arguments differ, when
    /// `allowed` and it holds no message and has no consumer; throws otherwise.
    private func recreateEmpty(_ queue: QueueDefinition, _ mismatch: TopologyMismatch, allowed: Bool, on connection: AMQPConnection) async throws {
        let channel = try await connection.openChannel()
        do {
            let state = try await channel.declareQueue(queue.name, passive: true)
            guard allowed, state.messageCount == 0, state.consumerCount == 0 else {
                throw TopologyError.deadLetterQueueMismatch(mismatch, messages: Int(state.messageCount), consumers: Int(state.consumerCount))
            }
            let deleted = try await channel.deleteQueue(queue.name)
            try await channel.declareQueue(queue.name, durable: queue.durable, arguments: queue.arguments)
            guard deleted == 0 else { throw TopologyError.lostWhileRecreating(queue: queue.name, messages: Int(deleted)) }
        } catch {
            await channel.close()
            throw error
        }
        await channel.close()
    }

    /// Lists every exchange and queue that is missing or whose live arguments differ from the code. Creates nothing.
    public func verify(on connection: AMQPConnection) async throws -> [TopologyMismatch] {
        var mismatches: [TopologyMismatch] = []
        for exchange in exchanges {
            let channel = try await connection.openChannel()
            do {
                try await channel.declareExchange(exchange.name, type: exchange.type, passive: true)
            } catch let error as AMQPError where error.replyCode == .notFound {
                mismatches.append(TopologyMismatch(name: exchange.name, problem: .exchangeMissing, detail: error.message))
                continue
            }
            do {
                try await channel.declareExchange(exchange.name, type: exchange.type, durable: exchange.durable)
                await channel.close()
            } catch let error as AMQPError where error.replyCode == .preconditionFailed {
                mismatches.append(TopologyMismatch(name: exchange.name, problem: .exchangeDiffers, detail: error.message))
            }
        }
        for queue in queues {
            // Each failed check closes its channel, so every queue gets a fresh one.
            let channel = try await connection.openChannel()
            do {
                try await channel.declareQueue(queue.name, passive: true)
            } catch let error as AMQPError where error.replyCode == .notFound {
                mismatches.append(TopologyMismatch(name: queue.name, problem: .missing, detail: error.message))
                continue
            }
            do {
                try await channel.declareQueue(queue.name, durable: queue.durable, arguments: queue.arguments)
                await channel.close()
            } catch let error as AMQPError where error.replyCode == .preconditionFailed {
                mismatches.append(Self.mismatch(queue: queue.name, error: error))
            }
        }
        return mismatches
    }

    /// The code's bindings that are not among `present` (what the broker
    /// reports: AMQP 0-9-1 cannot ask for a binding without making it, so the
    /// caller reads them from the management API).
    public func missingBindings(present: Set<BindingDefinition>) -> [TopologyMismatch] {
        bindings.filter { !present.contains($0) }.map {
            TopologyMismatch(
                name: $0.queue, problem: .bindingMissing(exchange: $0.exchange, routingKey: $0.routingKey), detail: "no such binding")
        }
    }

    /// Turns RabbitMQ's "inequivalent arg 'x-message-ttl' for queue …" into a named argument.
    static func mismatch(queue: String, error: AMQPError) -> TopologyMismatch {
        let text = error.message
        var argument = "unknown"
        if let start = text.range(of: "inequivalent arg '") {
            let rest = text[start.upperBound...]
            if let end = rest.firstIndex(of: "'") { argument = String(rest[..<end]) }
        }
        return TopologyMismatch(name: queue, problem: .argumentDiffers(argument: argument), detail: text)
    }

    /// Deletes every queue and exchange of this topology, with whatever the
    /// queues hold; what is already gone is skipped. For the prefixed
    /// topologies tests declare: deleting only the queues left an exchange per
    /// test behind (a developer's broker had gathered 3,341).
    public func delete(on connection: AMQPConnection) async {
        for queue in queues.map(\.name) {
            // A failed delete closes its channel, so each has its own.
            guard let channel = try? await connection.openChannel() else { return }
            _ = try? await channel.deleteQueue(queue)
            await channel.close()
        }
        for exchange in exchanges.map(\.name) {
            guard let channel = try? await connection.openChannel() else { return }
            try? await channel.deleteExchange(exchange)
            await channel.close()
        }
    }
}

public enum TopologyError: Error, CustomStringConvertible {
    case mismatch(TopologyMismatch)
    /// A dead-letter queue whose arguments differ, left alone: it holds messages or has consumers, or recreating was not asked for.
    case deadLetterQueueMismatch(TopologyMismatch, messages: Int, consumers: Int)
    /// Messages arrived between the emptiness check and the delete of a recreated dead-letter queue.
    case lostWhileRecreating(queue: String, messages: Int)

    public var description: String {
        switch self {
        case .mismatch(let mismatch):
            "\(mismatch). Declaring cannot change a queue's arguments: move its messages away, delete it and declare again."
        case .deadLetterQueueMismatch(let mismatch, let messages, let consumers):
            "\(mismatch); it holds \(messages) message\(messages == 1 ? "" : "s") and has \(consumers) consumer\(consumers == 1 ? "" : "s")."
        case .lostWhileRecreating(let queue, let messages):
            "queue '\(queue)' was recreated with the code's arguments, but \(messages) message\(messages == 1 ? "" : "s") dead-lettered "
                + "between the emptiness check and the delete went with the old queue"
        }
    }
}
