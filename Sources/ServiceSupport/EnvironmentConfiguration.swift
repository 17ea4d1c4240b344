import Foundation
import Logging
import TextCodecs

/// Reads a process's configuration from environment variables, each named in
/// ``EnvironmentVariable``. Every variable has a documented default; a value
/// that does not parse is an error naming the variable, never a silent fallback.
public struct EnvironmentConfiguration: Sendable {
    public let values: [String: String]

    public init(_ values: [String: String] = ProcessInfo.processInfo.environment) {
        self.values = values
    }

    public func string(_ variable: EnvironmentVariable, default value: String) -> String {
        optionalString(variable) ?? value
    }

    public func optionalString(_ variable: EnvironmentVariable) -> String? {
        guard let raw = values[variable.name], !raw.isEmpty else { return nil }
        return raw
    }

    public func int(_ variable: EnvironmentVariable, default value: Int, in range: ClosedRange<Int> = 0...Int.max) throws(ConfigurationError) -> Int {
        guard let raw = optionalString(variable) else { return value }
        guard let number = Int(raw.trimmingCharacters(in: .whitespaces)), range.contains(number) else {
            throw ConfigurationError(variable, "must be an integer from \(range.lowerBound) to \(range.upperBound), got '\(raw)'")
        }
        return number
    }

    public func bool(_ variable: EnvironmentVariable, default value: Bool) throws(ConfigurationError) -> Bool {
        guard let raw = optionalString(variable)?.lowercased() else { return value }
        switch raw {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw ConfigurationError(variable, "must be true or false, got '\(raw)'")
        }
    }

    /// `LOG_LEVEL` (info): one of swift-log's levels, in any case.
    public func logLevel() throws(ConfigurationError) -> Logger.Level {
        let raw = string(.logLevel, default: Logger.Level.info.rawValue)
        guard let level = Logger.Level(rawValue: raw.lowercased()) else {
            let levels = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
            throw ConfigurationError(.logLevel, "must be one of \(levels), got '\(raw)'")
        }
        return level
    }

    /// Variables set here that are not in ``EnvironmentVariable`` but look like
    /// one that is (`WORKER_PREFECH` for `WORKER_PREFETCH`): most likely typos,
    /// which would otherwise leave the default in force without a word. Sorted by name.
    public var lookalikes: [(unknown: String, known: EnvironmentVariable)] {
        values.keys.sorted().compactMap { name in
            EnvironmentVariable.lookalike(of: name).map { (name, $0) }
        }
    }

    /// `name=url,name=url`. A URL may hold commas of its own (libpq's multi-host
    /// `postgres://u:p@h1:5441,h2:5442/db`): an entry starts only where a name and
    /// `=` come before the URL's scheme, so a comma before a host continues the URL.
    func namedURLs(_ variable: EnvironmentVariable, default value: String) throws(ConfigurationError) -> [(name: String, url: String)] {
        let raw = string(variable, default: value)
        var result: [(String, String)] = []
        for entry in raw.split(separator: /,(?=\s*[^,=\/]*=\s*[A-Za-z][A-Za-z0-9+.-]*:\/\/)/) where !entry.trimmingCharacters(in: .whitespaces).isEmpty {
            let parts = entry.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw ConfigurationError(variable, "entries must look like vendorA=postgres://…, got '\(URLRedaction.redact(String(entry)))'")
            }
            result.append((parts[0], parts[1]))
        }
        return result
    }

    /// The broker: `AMQP_URLS` (comma-separated URLs of a cluster's nodes,
    /// tried in turn) when it is set, otherwise `AMQP_URL`. Every process and
    /// orderctl read it here, and `AMQPConfiguration(url:)` parses either form.
    public var amqpURL: String {
        optionalString(.amqpURLs) ?? string(.amqpURL, default: Defaults.amqpURL)
    }

    /// `DATABASE_URL`: ordersdb.
    public var databaseURL: String {
        string(.databaseURL, default: Defaults.databaseURL)
    }

    /// `VENDOR_DATABASE_URLS`: every vendor's database, `vendorA=postgres://…,vendorB=postgres://…`.
    public func vendorDatabaseURLs() throws(ConfigurationError) -> [(name: String, url: String)] {
        try namedURLs(.vendorDatabaseURLs, default: Defaults.vendorDatabaseURLs)
    }

    /// `QUEUE_PREFIX` (""): the prefix of every queue name of the topology,
    /// so a test run or a benchmark works on queues of its own. Every process
    /// and orderctl read it here.
    public var queuePrefix: String {
        string(.queuePrefix, default: Defaults.queuePrefix)
    }
}

public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let variable: String
    public let message: String

    public init(_ variable: EnvironmentVariable, _ message: String) {
        self.variable = variable.name
        self.message = message
    }

    public var description: String { "configuration: \(variable) \(message)" }
}

/// The defaults every process shares, in one place so README and code agree.
extension EnvironmentConfiguration {
    /// `LOW_STOCK_THRESHOLD` (5): every process that changes local stock
    /// announces `inventory.*` events against the same threshold.
    public func lowStockThreshold() throws -> Int {
        try int(.lowStockThreshold, default: 5, in: 0...1_000_000)
    }

    /// `FULFILMENT_RETRY_DELAYS_MS` (5000,30000,300000): the fulfilment retry
    /// tiers' delays, shortest first. Read by fulfilment-worker and by orderctl,
    /// so the queues declared and the queues the worker routes to agree.
    public func fulfilmentRetryDelaysMilliseconds(default value: [Int]) throws(ConfigurationError) -> [Int] {
        guard let raw = optionalString(.fulfilmentRetryDelaysMilliseconds) else { return value }
        var delays: [Int] = []
        for entry in raw.split(separator: ",", omittingEmptySubsequences: false) {
            guard let delay = Int(entry.trimmingCharacters(in: .whitespaces)), (1...86_400_000).contains(delay) else {
                throw ConfigurationError(
                    .fulfilmentRetryDelaysMilliseconds, "must be a comma-separated list of milliseconds from 1 to 86400000, got '\(raw)'")
            }
            delays.append(delay)
        }
        return delays
    }

    /// `RESERVATION_TTL_SECONDS` (900): how long a hold lasts when nobody says
    /// (an order that pays; a checkout hold without `expiresIn`).
    public func reservationTTLSeconds() throws -> Int {
        try int(.reservationTTLSeconds, default: 900, in: 1...86_400)
    }
}

public enum Defaults {
    public static let amqpURL = "amqp://guest:guest@127.0.0.1:5672/%2F"
    public static let databaseURL = "postgres://orders:orders@127.0.0.1:5432/ordersdb"
    public static let queuePrefix = ""
    /// The local broker's management API (RabbitMQ's own default user, loopback only).
    public static let rabbitMQManagementURL = "http://guest:guest@127.0.0.1:15672"
    public static let vendorDatabaseURLs =
        "vendorA=postgres://orders:orders@127.0.0.1:5432/vendoradb,vendorB=postgres://orders:orders@127.0.0.1:5432/vendorbdb"
}
