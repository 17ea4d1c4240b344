import AMQP
import Foundation

extension Topology {
    /// The broker user every process logs in as. The definitions hold its
    /// permissions but not the user itself: a user needs a password, and no
    /// password is committed. compose.yaml writes the user, with the password
    /// from `RABBITMQ_PASSWORD`, into a definitions file of its own that the
    /// broker loads before this one.
    public static let brokerUser = "orders"

    /// The least a process needs, and no more: configure, write and read on this
    /// topology's queues, and write on the default exchange. The broker checks the
    /// default exchange as `amq.default` both when a process publishes to a queue
    /// by name and when it declares a queue that dead-letters through it.
    /// The events exchange: configure (declare it), write (publish to it) and
    /// read (bind a queue to it). A subscriber's queue that the broker names
    /// (`amq.gen-…`, exclusive: `orderctl events tail`): configure, write (bind
    /// it) and read (consume it).
    public var brokerPermissions: BrokerPermissions {
        let names = queues.map(\.name) + exchanges.map(\.name)
        let serverNamed = [Self.serverNamedQueuePattern]
        let own = BrokerPermissions.exactly(names, namePatterns: serverNamed)
        return BrokerPermissions(
            configure: own, write: BrokerPermissions.exactly(["amq.default"] + names, namePatterns: serverNamed), read: own)
    }

    /// The names RabbitMQ gives a queue declared without one.
    static let serverNamedQueuePattern = #"amq\.gen-.*"#

    /// `rabbitmq/definitions.json`: what a broker loads at boot (`load_definitions`)
    /// to have this topology and its user's permissions before any process starts.
    public func definitionsJSON() -> String {
        let queues: [[String: Any]] = queues.map { queue in
            [
                "name": queue.name, "vhost": "/", "durable": queue.durable, "auto_delete": false,
                "arguments": queue.arguments.mapValues(Self.jsonValue),
            ]
        }
        let exchanges: [[String: Any]] = exchanges.map { exchange in
            [
                "name": exchange.name, "vhost": "/", "type": exchange.type, "durable": exchange.durable, "auto_delete": false,
                "internal": false, "arguments": [String: Any](),
            ]
        }
        let bindings: [[String: Any]] = bindings.map { binding in
            [
                "source": binding.exchange, "vhost": "/", "destination": binding.queue, "destination_type": "queue",
                "routing_key": binding.routingKey, "arguments": [String: Any](),
            ]
        }
        let permissions = brokerPermissions
        let definitions: [String: Any] = [
            "rabbit_version": "3.10.8",
            "vhosts": [["name": "/"]],
            "permissions": [[
                "user": Self.brokerUser, "vhost": "/",
                "configure": permissions.configure, "write": permissions.write, "read": permissions.read,
            ]],
            "parameters": [], "policies": [], "exchanges": exchanges, "bindings": bindings,
            "queues": queues,
        ]
        let data = try! JSONSerialization.data(withJSONObject: definitions, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    private static func jsonValue(_ value: AMQPValue) -> Any {
        switch value {
        case .bool(let b): return b
        case .string(let s): return s
        case .table(let t): return t.mapValues(jsonValue)
        case .array(let a): return a.map(jsonValue)
        case .float(let f): return Double(f)
        case .double(let d): return d
        default: return value.intValue ?? value.description
        }
    }
}
