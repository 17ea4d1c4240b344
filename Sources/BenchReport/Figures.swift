import Foundation

/// Everything one run of scripts/bench measured, kept in `figures.json` in
/// the run's directory: each step of the script adds its part, and the
/// tables and BENCHMARKS.md are rendered from it at the end.
public struct Figures: Codable, Sendable, Equatable {
    /// The size knobs as the run used them (BENCH_*, LOG_LEVEL), for the tables' wording.
    public var settings: [String: String] = [:]
    public var command = ""
    public var startedAt = ""
    public var machine = Machine()
    /// "uniform" and "hot": one run per client count.
    public var pgbench: [String: [PgbenchRun]] = [:]
    public var broker: [BrokerRun] = []
    /// "uniform" and "hot" of (c).
    public var drains: [String: Drain] = [:]
    public var endToEnd: [EndToEndRow] = []
    public var apiCeiling: APICeiling?
    /// VmHWM in MB of the daemons of (d) and (p), by daemon name.
    public var peakMemory: [String: Int] = [:]
    /// Each daemon's effective configuration, as it logged it at its last start.
    public var daemonConfigurations: [DaemonConfiguration] = []
    public var payments: [PaymentRow] = []
    public var scaling: [ScalingRow] = []
    public var disturbance = Disturbance()

    public init() {}

    public struct Machine: Codable, Sendable, Equatable {
        public var cores = 0
        public var cpuModel = "?"
        public var memory = "?"
        public var os = "?"
        public var kernel = "?"
        public var swiftVersion = "?"
        public var rabbitMQVersion = "?"
        public var erlangVersion = "?"
        public var postgresVersion = "?"
        public var librabbitmqVersion = "?"
        public var fsync = "?"
        public var synchronousCommit = "?"
        public var fullPageWrites = "?"
        public var walSyncMethod = "?"
        public var commit = "?"
        public init() {}
    }

    public struct PgbenchRun: Codable, Sendable, Equatable {
        public var clients: Int
        public var tps: Int
        public init(clients: Int, tps: Int) { (self.clients, self.tps) = (clients, tps) }
    }

    public struct BrokerRun: Codable, Sendable, Equatable {
        public var shape: String
        public var rate: Int
        public var confirmP50: String
        public var confirmP99: String
        public init(shape: String, rate: Int, confirmP50: String, confirmP99: String) {
            (self.shape, self.rate, self.confirmP50, self.confirmP99) = (shape, rate, confirmP50, confirmP99)
        }
    }

    /// An order-worker drain of a pre-filled orders queue.
    public struct Drain: Codable, Sendable, Equatable {
        public var orders: Int
        public var applied: Int
        /// Orders applied between the first and the last order's transaction, per second.
        public var rate: Int
        public var wallSeconds: Double
        public var timeoutSeconds: Int
        public var rejectedPercent: String
        /// Peak RSS of each order-worker instance, MB.
        public var workerPeakMB: [Int]
        public var fillRate: String
        public var cpu: String

        public init(
            orders: Int, applied: Int, rate: Int, wallSeconds: Double, timeoutSeconds: Int, rejectedPercent: String,
            workerPeakMB: [Int], fillRate: String, cpu: String
        ) {
            (self.orders, self.applied, self.rate, self.wallSeconds, self.timeoutSeconds) = (orders, applied, rate, wallSeconds, timeoutSeconds)
            (self.rejectedPercent, self.workerPeakMB, self.fillRate, self.cpu) = (rejectedPercent, workerPeakMB, fillRate, cpu)
        }

        /// "100000 orders in 8.8s wall", or how far it got by the time limit.
        public var note: String {
            applied < orders
                ? "stopped at the \(timeoutSeconds)s limit with \(applied) of \(orders) orders applied"
                : "\(applied) orders in \(String(format: "%.1f", wallSeconds))s wall"
        }
    }

    public struct EndToEndRow: Codable, Sendable, Equatable {
        public var offered: Int
        public var acceptedPerSecond: Int
        public var acceptLatency: String
        public var confirmLatency: String
        public var confirmedOfAccepted: String
        public var otherAnswers: String
        public var vendorSyncLeft: String
        public var cpu: String
        public init(
            offered: Int, acceptedPerSecond: Int, acceptLatency: String, confirmLatency: String, confirmedOfAccepted: String,
            otherAnswers: String, vendorSyncLeft: String, cpu: String
        ) {
            (self.offered, self.acceptedPerSecond, self.acceptLatency, self.confirmLatency) = (offered, acceptedPerSecond, acceptLatency, confirmLatency)
            (self.confirmedOfAccepted, self.otherAnswers, self.vendorSyncLeft, self.cpu) = (confirmedOfAccepted, otherAnswers, vendorSyncLeft, cpu)
        }
    }

    public struct APICeiling: Codable, Sendable, Equatable {
        public var acceptedPerSecond: Int
        public var note: String
        public init(acceptedPerSecond: Int, note: String) { (self.acceptedPerSecond, self.note) = (acceptedPerSecond, note) }
    }

    public struct PaymentRow: Codable, Sendable, Equatable {
        public var offered: Int
        public var acceptedPerSecond: Int
        public var acceptLatency: String
        public var confirmLatency: String
        public var confirmedOfAccepted: String
        public var confirmedPerSecond: Int
        public var cpu: String
        public init(
            offered: Int, acceptedPerSecond: Int, acceptLatency: String, confirmLatency: String, confirmedOfAccepted: String,
            confirmedPerSecond: Int, cpu: String
        ) {
            (self.offered, self.acceptedPerSecond, self.acceptLatency, self.confirmLatency) = (offered, acceptedPerSecond, acceptLatency, confirmLatency)
            (self.confirmedOfAccepted, self.confirmedPerSecond, self.cpu) = (confirmedOfAccepted, confirmedPerSecond, cpu)
        }
    }

    /// One row of "How cost grows": a drain of the orders queue under one
    /// varied condition (backlog, products, vendors, order-worker instances).
    public struct ScalingRow: Codable, Sendable, Equatable {
        /// What varies: "backlog", "products", "vendors", "workers".
        public var dimension: String
        public var value: Int
        public var drain: Drain
        /// RabbitMQ's memory with the backlog waiting: the node's mem_used and the orders queue's own, MB.
        public var brokerNodeMB: Int?
        public var brokerQueueMB: Int?
        /// The correctness check's verdict (every order applied once, stock exact, nothing dead-lettered), when made.
        public var check: String?
        public init(dimension: String, value: Int, drain: Drain, brokerNodeMB: Int?, brokerQueueMB: Int?, check: String?) {
            (self.dimension, self.value, self.drain) = (dimension, value, drain)
            (self.brokerNodeMB, self.brokerQueueMB, self.check) = (brokerNodeMB, brokerQueueMB, check)
        }
    }

    // MARK: The file

    public static func load(from path: String) throws -> Figures {
        guard FileManager.default.fileExists(atPath: path) else { return Figures() }
        return try JSONDecoder().decode(Figures.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    public func save(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
