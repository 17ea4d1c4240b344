import AMQP
import ArgumentParser
import BenchReport
import Foundation
import Messaging
import OrderCore
import ServiceSupport
import Synchronization
import Topology

/// The broker side of `scripts/bench`: the publish ceiling through our
/// librabbitmq wrapper, pre-filling an orders queue, and the bench queues'
/// lifecycle. Results are printed as `key=value` lines for the script.
@main
struct BenchAMQP: ProjectCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-amqp",
        abstract: "Broker harness for scripts/bench (not a service).",
        version: ProjectVersion.text,
        subcommands: [Ceiling.self, Fill.self, Declare.self, Delete.self, Purge.self, Depth.self]
    )
}

struct ConnectionOptions: ParsableArguments {
    @Option(name: .customLong("amqp-url"), help: "Broker URL (default: $AMQP_URL or the local broker).")
    var amqpURL: String = EnvironmentConfiguration().amqpURL

    func connect(_ name: String) async throws -> AMQPConnection {
        try await AMQPConnection.connect(AMQPConfiguration(url: amqpURL, connectionName: name))
    }
}

/// How a publish phase is shaped: `connections` librabbitmq connections
/// (one thread each), each with one confirm channel and `inFlight` tasks that
/// publish and await their own confirm, so connections × inFlight messages
/// are unconfirmed at any moment.
struct ShapeOptions: ParsableArguments {
    @Option(help: "Publishing connections (each its own librabbitmq thread and confirm channel).")
    var connections: Int = 4
    @Option(name: .customLong("in-flight"), help: "Unconfirmed publishes per connection.")
    var inFlight: Int = 64
}

/// An order message exactly as order-api publishes it (properties, persistence, mandatory).
enum OrderMessage {
    static func make(productId: String, appID: String) -> (body: [UInt8], properties: AMQPProperties) {
        let order = OrderPlaced(
            orderId: UUID(), lines: [OrderLine(productId: productId, quantity: 1)], idempotencyKey: nil, acceptedAt: Date())
        return (order.encoded(), order.amqpProperties(appID: appID))
    }

}

/// Opens `shape.connections` confirm channels and runs `inFlight` publishing
/// loops on each; `body(channel)` publishes one message and returns false to stop.
func publishLoops(
    _ options: ConnectionOptions, _ shape: ShapeOptions, name: String,
    _ body: @escaping @Sendable (AMQPChannel) async throws -> Bool
) async throws {
    var channels: [AMQPChannel] = []
    for index in 0..<shape.connections {
        channels.append(try await options.connect("\(name)-\(index)").openConfirmChannel())
    }
    try await withThrowingTaskGroup(of: Void.self) { group in
        for channel in channels {
            for _ in 0..<shape.inFlight {
                group.addTask { while try await body(channel) {} }
            }
        }
        try await group.waitForAll()
    }
    for channel in channels { await channel.connection.close() }
}

func secondsOf(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// p-th quantile (nearest rank) of sorted values, NaN for none.
func quantile(_ sorted: [Double], _ p: Double) -> Double {
    guard case .value(let value) = NearestRank.quantile(p, of: sorted) else { return .nan }
    return value
}

struct Ceiling: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Confirmed persistent publishes per second into a fresh quorum queue, which is deleted after.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var shape: ShapeOptions
    @Option(help: "Queue to create (must not exist), publish into, and delete.")
    var queue: String
    @Option(help: "Seconds measured (after one second of warm-up).")
    var seconds: Int = 10

    func run() async throws {
        // The same arguments as the orders queue the API publishes into.
        let definition = Topology(prefix: "").queues.first { $0.role == .main }!
        let admin = try await connection.connect("bench-ceiling-admin")
        let channel = try await admin.openChannel()
        let existing = try? await channel.declareQueue(queue, passive: true)
        if let existing {
            throw ValidationError("queue \(queue) already exists (\(existing.messageCount) messages): not touching it")
        }
        let adminChannel = try await admin.openChannel()  // a failed passive declare closed the first
        try await adminChannel.declareQueue(queue, durable: true, arguments: definition.arguments)

        let (body, template) = OrderMessage.make(productId: "bench-u-0001", appID: "bench-amqp")
        let clock = ContinuousClock()
        let start = clock.now
        let measureFrom = start + .seconds(1)
        let measureUntil = measureFrom + .seconds(seconds)
        let confirmed = Atomic<Int>(0)
        let latencies = Mutex<[Double]>([])
        let queue = queue
        try await publishLoops(connection, shape, name: "bench-ceiling") { channel in
            var local: [Double] = []
            defer { latencies.withLock { $0 += local } }
            while true {
                let sent = clock.now
                if sent >= measureUntil { return false }
                var properties = template
                let id = UUID().uuidString
                properties.messageID = id
                properties.correlationID = id
                try await channel.publish(body, routingKey: queue, mandatory: true, properties: properties)
                let done = clock.now
                if sent >= measureFrom && done <= measureUntil {
                    confirmed.add(1, ordering: .relaxed)
                    local.append(secondsOf(done - sent) * 1000)
                }
            }
        }
        let held = try await adminChannel.deleteQueue(queue)
        await admin.close()

        let sorted = latencies.withLock { $0.sorted() }
        let count = confirmed.load(ordering: .relaxed)
        print("connections=\(shape.connections) in_flight=\(shape.inFlight) seconds=\(seconds)")
        print("confirmed=\(count) rate=\(Int((Double(count) / Double(seconds)).rounded()))")
        print(String(format: "confirm_p50_ms=%.2f confirm_p99_ms=%.2f", quantile(sorted, 0.5), quantile(sorted, 0.99)))
        print("deleted_queue=\(queue) messages_in_it=\(held)")
    }
}

struct Fill: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Publishes valid order messages (as order-api does) into a queue, each confirmed.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var shape: ShapeOptions
    @Option(help: "Queue to fill (must exist).")
    var queue: String
    @Option(help: "How many orders.")
    var count: Int
    @Option(name: .customLong("product-prefix"), help: "Product ids are this prefix and a number of 4 digits at least.")
    var productPrefix: String
    @Option(help: "Products to spread the orders over, uniformly at random (1 = all on one product).")
    var products: Int

    func run() async throws {
        let next = Atomic<Int>(0)
        let (count, queue, prefix, products) = (count, queue, productPrefix, products)
        let clock = ContinuousClock()
        let start = clock.now
        try await publishLoops(connection, shape, name: "bench-fill") { channel in
            guard next.add(1, ordering: .relaxed).oldValue < count else { return false }
            let product = BenchProduct.id(prefix: prefix, number: Int.random(in: 1...products))
            let (body, properties) = OrderMessage.make(productId: product, appID: "bench-amqp")
            try await channel.publish(body, routingKey: queue, mandatory: true, properties: properties)
            return true
        }
        let elapsed = secondsOf(clock.now - start)
        print("published=\(count) seconds=\(String(format: "%.2f", elapsed)) rate=\(Int((Double(count) / elapsed).rounded()))")
    }
}

struct Declare: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Declares the whole topology with a queue-name prefix.")
    @OptionGroup var connection: ConnectionOptions
    @Option(help: "Queue-name prefix (QUEUE_PREFIX of the daemons).")
    var prefix: String

    func run() async throws {
        guard !prefix.isEmpty else { throw ValidationError("an empty prefix would be the production queues") }
        let amqp = try await connection.connect("bench-topology")
        try await Topology(prefix: prefix).declare(on: amqp)
        await amqp.close()
        print("declared=\(Topology(prefix: prefix).queues.map(\.name).joined(separator: ","))")
    }
}

struct Delete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Deletes the prefixed topology's queues and any extra queues named (missing ones are fine).")
    @OptionGroup var connection: ConnectionOptions
    @Option(help: "Queue-name prefix of the topology to delete.")
    var prefix: String
    @Option(name: .customLong("queue"), help: "An extra queue to delete (repeatable).")
    var extra: [String] = []

    func run() async throws {
        guard !prefix.isEmpty else { throw ValidationError("an empty prefix would be the production queues") }
        let amqp = try await connection.connect("bench-topology")
        for name in Topology(prefix: prefix).queues.map(\.name) + extra {
            // A fresh channel each: a 404 closes the channel it happened on.
            let channel = try await amqp.openChannel()
            guard (try? await channel.declareQueue(name, passive: true)) != nil else { continue }
            let held = try await channel.deleteQueue(name)
            print("deleted=\(name) messages=\(held)")
            await channel.close()
        }
        await amqp.close()
    }
}

struct Purge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Removes the ready messages of queues; prints how many.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "Queues.")
    var queues: [String]

    func run() async throws {
        let amqp = try await connection.connect("bench-topology")
        let channel = try await amqp.openChannel()
        for queue in queues {
            print("purged_\(queue)=\(try await channel.purgeQueue(queue))")
        }
        await amqp.close()
    }
}

struct Depth: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ready messages in queues (not the unacknowledged ones), as queue=count lines.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "Queues.")
    var queues: [String]

    func run() async throws {
        let amqp = try await connection.connect("bench-topology")
        for queue in queues {
            let channel = try await amqp.openChannel()
            let state = try await channel.declareQueue(queue, passive: true)
            print("\(queue)=\(state.messageCount)")
            await channel.close()
        }
        await amqp.close()
    }
}
