#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import Synchronization
import TextCodecs

/// One JSON object per line on stdout: `ts`, `level`, `logger`, `msg` and the
/// metadata, keys sorted (the order id travels as `order_id`, the correlation id).
///
/// Written by hand into one byte buffer and one `write(2)`: the workers log a
/// line per order, and Foundation's date formatting plus `JSONSerialization`
/// (which sorts keys with locale-aware comparison) cost more CPU than applying
/// the order.
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
        var line = Self.line(level: event.level, label: label, message: "\(event.message)", metadata: metadata, extra: event.metadata)
        line.append(0x0A)
        Self.output.withLock { _ in Self.writeAll(line) }
    }

    /// The JSON object of one log line (without the newline).
    static func line(
        level: Logger.Level, label: String, message: String, metadata: Logger.Metadata, extra: Logger.Metadata?,
        now: timespec = Self.now()
    ) -> [UInt8] {
        var fields = metadata
        if let extra, !extra.isEmpty { fields.merge(extra) { $1 } }
        var out: [UInt8] = []
        out.reserveCapacity(192 + message.utf8.count)
        out.append(UInt8(ascii: "{"))
        // The fixed fields win over metadata of the same name (skipped here, not
        // removed from `fields`, which would copy the logger's metadata every line).
        let fixed = ["ts", "level", "logger", "msg"]
        var keys = fields.keys.filter { !fixed.contains($0) }
        keys.append(contentsOf: fixed)
        keys.sort()
        for (index, key) in keys.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            JSONText.appendString(key, to: &out)
            out.append(UInt8(ascii: ":"))
            switch key {
            case "ts": appendTimestamp(now, to: &out)
            case "level": JSONText.appendString(level.rawValue, to: &out)
            case "logger": JSONText.appendString(label, to: &out)
            case "msg": JSONText.appendString(message, to: &out)
            default: appendValue(fields[key]!, to: &out)
            }
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    private static func appendValue(_ value: Logger.MetadataValue, to out: inout [UInt8]) {
        switch value {
        case .string(let s): JSONText.appendString(s, to: &out)
        case .stringConvertible(let c): JSONText.appendString(c.description, to: &out)
        case .array(let values):
            out.append(UInt8(ascii: "["))
            for (index, element) in values.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                appendValue(element, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .dictionary(let dictionary):
            out.append(UInt8(ascii: "{"))
            for (index, key) in dictionary.keys.sorted().enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSONText.appendString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                appendValue(dictionary[key]!, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    static func now() -> timespec {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return time
    }

    /// `"2026-11-21T03:04:05.123456Z"` (UTC, microseconds).
    static func appendTimestamp(_ time: timespec, to out: inout [UInt8]) {
        let (year, month, day, secondOfDay) = CivilCalendar.civil(fromSecondsSince1970: Int64(time.tv_sec))
        out.append(UInt8(ascii: "\""))
        CivilCalendar.appendDateTime(
            year: year, month: month, day: day, secondOfDay: secondOfDay, separator: UInt8(ascii: "T"),
            fraction: Int64(time.tv_nsec) / 1000, fractionDigits: 6, to: &out)
        out.append(contentsOf: [UInt8(ascii: "Z"), UInt8(ascii: "\"")])
    }

    /// Writes the whole line to stdout; a failed write drops it: stdout is
    /// gone, and a log line is not worth crashing for.
    private static func writeAll(_ bytes: [UInt8]) {
        try? FileDescriptorIO.writeAll(1, bytes)
    }

    /// Installs JSON logging at `LOG_LEVEL` (default info) for the whole process.
    public static func bootstrap(_ configuration: EnvironmentConfiguration = EnvironmentConfiguration()) {
        let level = Logger.Level(rawValue: configuration.string("LOG_LEVEL", default: "info").lowercased()) ?? .info
        LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level) }
    }
}
