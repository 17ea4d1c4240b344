import AMQP
import Foundation

extension Topology {
    /// The user the compose broker creates from the definitions file. Its hash is
    /// `rabbit_password_hashing_sha256` of the password "orders" with a fixed salt:
    /// change it (and AMQP_URL) for anything but a local stack.
    static let composeUser = (name: "orders", passwordHash: "b3JkcmGfvHRRL4/14O3qBjpmbrZkTNKGoaNvEXb/LvSkngeh")

    /// `rabbitmq/definitions.json`: what a broker loads at boot (`load_definitions`)
    /// to have this topology and a user before any process starts.
    public func definitionsJSON() -> String {
        let queues: [[String: Any]] = queues.map { queue in
            [
                "name": queue.name, "vhost": "/", "durable": queue.durable, "auto_delete": false,
                "arguments": queue.arguments.mapValues(Self.jsonValue),
            ]
        }
        let definitions: [String: Any] = [
            "rabbit_version": "3.10.8",
            "users": [[
                "name": Self.composeUser.name, "password_hash": Self.composeUser.passwordHash,
                "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": ["administrator"],
            ]],
            "vhosts": [["name": "/"]],
            "permissions": [["user": Self.composeUser.name, "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"]],
            "parameters": [], "policies": [], "exchanges": [], "bindings": [],
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
