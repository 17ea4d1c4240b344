#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import Synchronization
import TextCodecs

/// One JSON object per line on stdout: `ts`, `level`, `logger`, `msg` and the
/// metadata, keys sorted (the order id travels as `order_id`, the correlation id),
/// and the current trace's `trace_id` and `span_id` (its metadata provider).
///
/// Written with `JSONWriter` into one byte buffer and one `write(2)`: the
/// workers log lines per order, and Foundation's date formatting plus
/// `JSONSerialization` (which sorts keys with locale-aware comparison) cost
/// more CPU than applying the order.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private static let output = Mutex(())

    public init(label: String, level: Logger.Level, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.logLevel = level
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = Self.line(
            level: event.level, label: label, message: "\(event.message)", metadata: metadata, provided: metadataProvider?.get(), extra: event.metadata)
        line.append(0x0A)
        Self.output.withLock { _ in Self.writeAll(line) }
    }

    /// The JSON object of one log line (without the newline). The line's own
    /// metadata wins over the provider's, which wins over the logger's.
    static func line(
        level: Logger.Level, label: String, message: String, metadata: Logger.Metadata, provided: Logger.Metadata? = nil,
        extra: Logger.Metadata?, now: timespec = Self.now()
    ) -> [UInt8] {
        var fields = metadata
        if let provided, !provided.isEmpty { fields.merge(provided) { $1 } }
        if let extra, !extra.isEmpty { fields.merge(extra) { $1 } }
        var out = JSONWriter(capacity: 192 + message.utf8.count)
        out.raw("{")
        // The fixed fields win over metadata of the same name (skipped here, not
        // removed from `fields`, which would copy the logger's metadata every line).
        let fixed = ["ts", "level", "logger", "msg"]
        var keys = fields.keys.filter { !fixed.contains($0) }
        keys.append(contentsOf: fixed)
        keys.sort()
        for (index, key) in keys.enumerated() {
            if index > 0 { out.raw(",") }
            out.string(key)
            out.raw(":")
            switch key {
            case "ts": appendTimestamp(now, to: &out)
            case "level": out.string(level.rawValue)
            case "logger": out.string(label)
            case "msg": out.string(message)
            default: appendValue(fields[key]!, to: &out)
            }
        }
        out.raw("}")
        return out.bytes
    }

    private static func appendValue(_ value: Logger.MetadataValue, to out: inout JSONWriter) {
        switch value {
        case .string(let s): out.string(s)
        case .stringConvertible(let c): out.string(c.description)
        case .array(let values):
            out.raw("[")
            for (index, element) in values.enumerated() {
                if index > 0 { out.raw(",") }
                appendValue(element, to: &out)
            }
            out.raw("]")
        case .dictionary(let dictionary):
            out.raw("{")
            for (index, key) in dictionary.keys.sorted().enumerated() {
                if index > 0 { out.raw(",") }
                out.string(key)
                out.raw(":")
                appendValue(dictionary[key]!, to: &out)
            }
            out.raw("}")
        }
    }

    static func now() -> timespec {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return time
    }

    /// `"2026-11-21T03:04:05.123456Z"` (UTC, microseconds).
    static func appendTimestamp(_ time: timespec, to out: inout JSONWriter) {
        out.raw("\"")
        TimestampText.log.append(seconds: Int64(time.tv_sec), nanoseconds: Int64(time.tv_nsec), to: &out.bytes)
        out.raw("\"")
    }

    /// Writes the whole line to stdout; a failed write drops it: stdout is
    /// gone, and a log line is not worth crashing for.
    private static func writeAll(_ bytes: [UInt8]) {
        try? FileDescriptorIO.writeAll(1, bytes)
    }

    /// Installs JSON logging at `level` for the whole process, with the
    /// trace context's ids on every line logged inside one.
    public static func bootstrap(level: Logger.Level) {
        LoggingSystem.bootstrap(
            { label, provider in JSONLogHandler(label: label, level: level, metadataProvider: provider) }, metadataProvider: .traceContext)
    }
}
