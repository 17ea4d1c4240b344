import AMQP

/// A queue whose live state differs from the code.
public struct TopologyMismatch: Sendable, Hashable, CustomStringConvertible {
    public enum Problem: Sendable, Hashable {
        case missing
        /// The broker refused the redeclare (406) because this argument differs.
        case argumentDiffers(argument: String)
    }

    public let queue: String
    public let problem: Problem
    /// The broker's own words.
    public let detail: String

    public var description: String {
        switch problem {
        case .missing: "queue '\(queue)' does not exist"
        case .argumentDiffers(let argument): "queue '\(queue)': argument '\(argument)' differs from the code (\(detail))"
        }
    }
}

extension Topology {
    /// Declares every queue. Idempotent: declaring what exists with the same arguments changes nothing.
    /// A queue that exists with other arguments makes the broker answer 406; that error names the queue and argument.
    public func declare(on connection: AMQPConnection) async throws {
        let channel = try await connection.openChannel()
        for queue in queues {
            do {
                try await channel.declareQueue(queue.name, durable: queue.durable, arguments: queue.arguments)
            } catch let error as AMQPError where error.replyCode == .preconditionFailed {
                throw TopologyError.mismatch(Self.mismatch(queue: queue.name, error: error))
            } catch {
                await channel.close()
                throw error
            }
        }
        await channel.close()
    }

    /// Lists every queue that is missing or whose live arguments differ from the code. Creates nothing.
    public func verify(on connection: AMQPConnection) async throws -> [TopologyMismatch] {
        var mismatches: [TopologyMismatch] = []
        for queue in queues {
            // Each failed check closes its channel, so every queue gets a fresh one.
            let channel = try await connection.openChannel()
            do {
                try await channel.declareQueue(queue.name, passive: true)
            } catch let error as AMQPError where error.replyCode == .notFound {
                mismatches.append(TopologyMismatch(queue: queue.name, problem: .missing, detail: error.message))
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

    /// Turns RabbitMQ's "inequivalent arg 'x-message-ttl' for queue …" into a named argument.
    static func mismatch(queue: String, error: AMQPError) -> TopologyMismatch {
        let text = error.message
        var argument = "unknown"
        if let start = text.range(of: "inequivalent arg '") {
            let rest = text[start.upperBound...]
            if let end = rest.firstIndex(of: "'") { argument = String(rest[..<end]) }
        }
        return TopologyMismatch(queue: queue, problem: .argumentDiffers(argument: argument), detail: text)
    }
}

public enum TopologyError: Error, CustomStringConvertible {
    case mismatch(TopologyMismatch)

    public var description: String {
        switch self {
        case .mismatch(let mismatch):
            "\(mismatch). Declaring cannot change a queue's arguments: move its messages away, delete it and declare again."
        }
    }
}
