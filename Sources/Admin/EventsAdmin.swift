import AMQP
import Foundation
import Topology

/// `orderctl events tail`: follows the `order_events` exchange for an
/// operator, through a queue of its own that the broker names and deletes
/// when the connection goes (exclusive, auto-delete), so following leaves
/// nothing behind and takes nothing from the real subscribers.
public struct EventsAdmin: Sendable, BrokerAdmin {
    public let amqpURL: String
    public let topology: Topology

    public init(amqpURL: String, topology: Topology = .standard) {
        self.amqpURL = amqpURL
        self.topology = topology
    }

    /// Binds with each routing key (`#`: everything), then calls `line` with
    /// each event as one JSON line, until `count` events (nil: until the
    /// process is stopped). `ready` runs once the queue is bound: events
    /// published before that are not seen.
    public func tail(
        routingKeys: [String], count: Int?, ready: @Sendable () -> Void = {}, line: (String) -> Void
    ) async throws {
        try await withConnection("following \(topology.orderEvents)") { connection in
            let channel = try await connection.openChannel()
            let queue = try await channel.declareQueue("", durable: false, exclusive: true, autoDelete: true).name
            for key in routingKeys.isEmpty ? ["#"] : routingKeys {
                try await channel.bindQueue(queue, exchange: topology.orderEvents, routingKey: key)
            }
            try await channel.setPrefetch(100)
            let consumer = try await channel.consume(queue: queue, exclusive: true)
            ready()
            var seen = 0
            for try await delivery in consumer {
                line(Self.line(delivery))
                try await channel.ack(delivery.deliveryTag)
                seen += 1
                if let count, seen >= count { break }
            }
        }
    }

    /// One event as a JSON line (sorted keys): where it was routed, its
    /// properties, and its body (as JSON when it is JSON, as a string otherwise).
    static func line(_ delivery: AMQPDelivery) -> String {
        let properties = delivery.properties
        let body = Data(delivery.body)
        let object: [String: Any] = [
            "routingKey": delivery.routingKey, "messageId": properties.messageID ?? NSNull(),
            "correlationId": properties.correlationID ?? NSNull(), "type": properties.type ?? NSNull(),
            "event": (try? JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed])) ?? String(decoding: body, as: UTF8.self),
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
