import Foundation
import Logging
import Synchronization

/// One JSON object per line on stdout: `ts`, `level`, `logger`, `msg` and the
/// metadata (the order id travels as `order_id`, the correlation id).
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String
    private static let output = Mutex(())

    public init(label: String, level: Logger.Level) {
        self.label = label
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var object: [String: Any] = [
            "ts": Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true)),
            "level": event.level.rawValue,
            "logger": label,
            "msg": "\(event.message)",
        ]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) {
            object[key] = Self.unpack(value)
        }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        Self.output.withLock { _ in
            FileHandle.standardOutput.write(data + Data([0x0A]))
        }
    }

    private static func unpack(_ value: Logger.MetadataValue) -> Any {
        switch value {
        case .string(let s): s
        case .stringConvertible(let c): "\(c)"
        case .array(let a): a.map(unpack)
        case .dictionary(let d): d.mapValues(unpack)
        }
    }

    /// Installs JSON logging at `LOG_LEVEL` (default info) for the whole process.
    public static func bootstrap(_ configuration: EnvironmentConfiguration = EnvironmentConfiguration()) {
        let level = Logger.Level(rawValue: configuration.string("LOG_LEVEL", default: "info").lowercased()) ?? .info
        LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level) }
    }
}
