import Foundation
import TextCodecs

/// Reads a process's configuration from environment variables. Every
/// variable has a documented default; a value that does not parse is an
/// error naming the variable, never a silent fallback.
public struct EnvironmentConfiguration: Sendable {
    public let values: [String: String]

    public init(_ values: [String: String] = ProcessInfo.processInfo.environment) {
        self.values = values
    }

    public func string(_ name: String, default value: String) -> String {
        guard let raw = values[name], !raw.isEmpty else { return value }
        return raw
    }

    public func optionalString(_ name: String) -> String? {
        guard let raw = values[name], !raw.isEmpty else { return nil }
        return raw
    }

    public func int(_ name: String, default value: Int, in range: ClosedRange<Int> = 0...Int.max) throws(ConfigurationError) -> Int {
        guard let raw = values[name], !raw.isEmpty else { return value }
        guard let number = Int(raw.trimmingCharacters(in: .whitespaces)), range.contains(number) else {
            throw ConfigurationError(variable: name, message: "must be an integer from \(range.lowerBound) to \(range.upperBound), got '\(raw)'")
        }
        return number
    }

    public func bool(_ name: String, default value: Bool) throws(ConfigurationError) -> Bool {
        guard let raw = values[name]?.lowercased(), !raw.isEmpty else { return value }
        switch raw {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw ConfigurationError(variable: name, message: "must be true or false, got '\(raw)'")
        }
    }

    /// `name=url,name=url`.
    func namedURLs(_ name: String, default value: String) throws(ConfigurationError) -> [(name: String, url: String)] {
        let raw = string(name, default: value)
        var result: [(String, String)] = []
        for entry in raw.split(separator: ",") where !entry.trimmingCharacters(in: .whitespaces).isEmpty {
            let parts = entry.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw ConfigurationError(variable: name, message: "entries must look like vendorA=postgres://…, got '\(URLRedaction.redact(String(entry)))'")
            }
            result.append((parts[0], parts[1]))
        }
        return result
    }

    /// `AMQP_URL`: the broker.
    public var amqpURL: String {
        string("AMQP_URL", default: Defaults.amqpURL)
    }

    /// `DATABASE_URL`: ordersdb.
    public var databaseURL: String {
        string("DATABASE_URL", default: Defaults.databaseURL)
    }

    /// `VENDOR_DATABASE_URLS`: every vendor's database, `vendorA=postgres://…,vendorB=postgres://…`.
    public func vendorDatabaseURLs() throws(ConfigurationError) -> [(name: String, url: String)] {
        try namedURLs("VENDOR_DATABASE_URLS", default: Defaults.vendorDatabaseURLs)
    }

    /// `QUEUE_PREFIX` (""): the prefix of every queue name of the topology,
    /// so a test run or a benchmark works on queues of its own. Every process
    /// and orderctl read it here.
    public var queuePrefix: String {
        string("QUEUE_PREFIX", default: Defaults.queuePrefix)
    }
}

public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let variable: String
    public let message: String

    public var description: String { "configuration: \(variable) \(message)" }
}

/// The defaults every process shares, in one place so README and code agree.
public enum Defaults {
    public static let amqpURL = "amqp://guest:guest@127.0.0.1:5672/%2F"
    public static let databaseURL = "postgres://orders:orders@127.0.0.1:5432/ordersdb"
    public static let queuePrefix = ""
    public static let vendorDatabaseURLs =
        "vendorA=postgres://orders:orders@127.0.0.1:5432/vendoradb,vendorB=postgres://orders:orders@127.0.0.1:5432/vendorbdb"
}
