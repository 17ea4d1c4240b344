import AMQP
import Foundation
import OrderCore
import ServiceSupport

/// An AMQP field value with its type spelled out, so a header written back
/// from JSON has the type it was read with: `{"type":"int64","value":3}`,
/// `{"type":"string","value":"…"}`, `{"type":"bytes","value":"<base64>"}`,
/// `{"type":"timestamp","value":1700000000}`,
/// `{"type":"decimal","value":{"scale":2,"value":1234}}`,
/// `{"type":"array","value":[…]}`, `{"type":"table","value":{…}}`, `{"type":"void"}`.
public struct TypedValue: Codable, Sendable, Hashable {
    public let value: AMQPValue

    public init(_ value: AMQPValue) { self.value = value }

    private enum CodingKeys: String, CodingKey { case type, value }
    private struct Decimal: Codable { let scale: UInt8; let value: UInt32 }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let type = try container.decode(String.self, forKey: .type)
        switch type {
        case "bool": value = .bool(try container.decode(Bool.self, forKey: .value))
        case "int8": value = .int8(try container.decode(Int8.self, forKey: .value))
        case "uint8": value = .uint8(try container.decode(UInt8.self, forKey: .value))
        case "int16": value = .int16(try container.decode(Int16.self, forKey: .value))
        case "uint16": value = .uint16(try container.decode(UInt16.self, forKey: .value))
        case "int32": value = .int32(try container.decode(Int32.self, forKey: .value))
        case "uint32": value = .uint32(try container.decode(UInt32.self, forKey: .value))
        case "int64": value = .int64(try container.decode(Int64.self, forKey: .value))
        case "uint64": value = .uint64(try container.decode(UInt64.self, forKey: .value))
        case "float": value = .float(try container.decode(Float.self, forKey: .value))
        case "double": value = .double(try container.decode(Double.self, forKey: .value))
        case "decimal":
            let decimal = try container.decode(Decimal.self, forKey: .value)
            value = .decimal(scale: decimal.scale, value: decimal.value)
        case "string": value = .string(try container.decode(String.self, forKey: .value))
        case "bytes":
            let text = try container.decode(String.self, forKey: .value)
            guard let data = Data(base64Encoded: text) else {
                throw DecodingError.dataCorruptedError(forKey: .value, in: container, debugDescription: "bytes must be base64")
            }
            value = .bytes(Array(data))
        case "timestamp": value = .timestamp(try container.decode(UInt64.self, forKey: .value))
        case "array": value = .array(try container.decode([TypedValue].self, forKey: .value).map(\.value))
        case "table": value = .table(try container.decode([String: TypedValue].self, forKey: .value).mapValues(\.value))
        case "void": value = .void
        default:
            throw DecodingError.dataCorruptedError(forKey: .type, in: container, debugDescription: "unknown AMQP field type '\(type)'")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(Self.typeName(value), forKey: .type)
        switch value {
        case .bool(let v): try container.encode(v, forKey: .value)
        case .int8(let v): try container.encode(v, forKey: .value)
        case .uint8(let v): try container.encode(v, forKey: .value)
        case .int16(let v): try container.encode(v, forKey: .value)
        case .uint16(let v): try container.encode(v, forKey: .value)
        case .int32(let v): try container.encode(v, forKey: .value)
        case .uint32(let v): try container.encode(v, forKey: .value)
        case .int64(let v): try container.encode(v, forKey: .value)
        case .uint64(let v): try container.encode(v, forKey: .value)
        case .float(let v): try container.encode(v, forKey: .value)
        case .double(let v): try container.encode(v, forKey: .value)
        case .decimal(let scale, let v): try container.encode(Decimal(scale: scale, value: v), forKey: .value)
        case .string(let v): try container.encode(v, forKey: .value)
        case .bytes(let v): try container.encode(Data(v).base64EncodedString(), forKey: .value)
        case .timestamp(let v): try container.encode(v, forKey: .value)
        case .array(let items): try container.encode(items.map(TypedValue.init), forKey: .value)
        case .table(let table): try container.encode(table.mapValues(TypedValue.init), forKey: .value)
        case .void: break
        }
    }

    public static func typeName(_ value: AMQPValue) -> String {
        switch value {
        case .bool: "bool"
        case .int8: "int8"
        case .uint8: "uint8"
        case .int16: "int16"
        case .uint16: "uint16"
        case .int32: "int32"
        case .uint32: "uint32"
        case .int64: "int64"
        case .uint64: "uint64"
        case .float: "float"
        case .double: "double"
        case .decimal: "decimal"
        case .string: "string"
        case .bytes: "bytes"
        case .timestamp: "timestamp"
        case .array: "array"
        case .table: "table"
        case .void: "void"
        }
    }
}

/// One message as `dlq export` writes it: one JSON object per line, every
/// property, headers with their AMQP types, the body in base64. `dlq import`
/// publishes it back exactly.
public struct ExportedMessage: Codable, Sendable, Hashable {
    /// Version of this line format.
    public static let formatVersion = 1
    static let deliveryCountHeader = "x-delivery-count"

    public struct Properties: Codable, Sendable, Hashable {
        public var contentType: String?
        public var contentEncoding: String?
        public var headers: [String: TypedValue]
        /// 1 transient, 2 persistent.
        public var deliveryMode: UInt8?
        public var priority: UInt8?
        public var correlationId: String?
        public var replyTo: String?
        public var expiration: String?
        public var messageId: String?
        /// Seconds since 1970 (AMQP timestamps have second precision).
        public var timestamp: Int64?
        public var type: String?
        public var userId: String?
        public var appId: String?
    }

    public var format: Int
    /// The queue the message was exported from; `dlq import` publishes back to it unless told `--to`.
    public var queue: String
    public var exchange: String
    public var routingKey: String
    public var redelivered: Bool
    /// The `x-delivery-count` a quorum queue put on the delivery (0 the first time), kept here and
    /// not in the headers: it describes the queue's deliveries, not the message, and the queue
    /// imported into sets its own.
    public var deliveryCount: Int64?
    public var exportedAt: String
    public var properties: Properties
    /// The body, base64.
    public var body: String
    public var bodyLength: Int

    public init(queue: String, delivery: AMQPDelivery, exportedAt: Date) {
        let p = delivery.properties
        format = Self.formatVersion
        self.queue = queue
        exchange = delivery.exchange
        routingKey = delivery.routingKey
        redelivered = delivery.redelivered
        deliveryCount = p.headers[Self.deliveryCountHeader]?.intValue.map(Int64.init)
        self.exportedAt = MessageCoding.formatDate(exportedAt)
        properties = Properties(
            contentType: p.contentType, contentEncoding: p.contentEncoding,
            headers: p.headers.filter { $0.key != Self.deliveryCountHeader }.mapValues(TypedValue.init),
            deliveryMode: p.deliveryMode?.rawValue, priority: p.priority, correlationId: p.correlationID, replyTo: p.replyTo,
            expiration: p.expiration, messageId: p.messageID, timestamp: p.timestamp.map { Int64($0.timeIntervalSince1970.rounded(.down)) },
            type: p.type, userId: p.userID, appId: p.appID)
        body = Data(delivery.body).base64EncodedString()
        bodyLength = delivery.body.count
    }

    /// The properties to publish.
    public func amqpProperties() throws -> AMQPProperties {
        var deliveryMode: AMQPProperties.DeliveryMode?
        if let raw = properties.deliveryMode {
            guard let mode = AMQPProperties.DeliveryMode(rawValue: raw) else { throw JSONLinesError("deliveryMode must be 1 or 2, not \(raw)") }
            deliveryMode = mode
        }
        return AMQPProperties(
            contentType: properties.contentType, contentEncoding: properties.contentEncoding, headers: properties.headers.mapValues(\.value),
            deliveryMode: deliveryMode, priority: properties.priority, correlationID: properties.correlationId, replyTo: properties.replyTo,
            expiration: properties.expiration, messageID: properties.messageId,
            timestamp: properties.timestamp.map { Date(timeIntervalSince1970: TimeInterval($0)) }, type: properties.type,
            userID: properties.userId, appID: properties.appId)
    }

    public func bodyBytes() throws -> [UInt8] {
        guard let data = Data(base64Encoded: body) else { throw JSONLinesError("body is not base64") }
        guard data.count == bodyLength else { throw JSONLinesError("body has \(data.count) bytes, bodyLength says \(bodyLength)") }
        return Array(data)
    }
}

public struct JSONLinesError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Reading and writing `dlq export` files.
public enum JSONLines {
    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "+Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return encoder
    }()

    public static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "+Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return decoder
    }()

    /// One line (with its newline).
    public static func line(_ message: ExportedMessage) throws -> [UInt8] {
        Array(try encoder.encode(message)) + [UInt8(ascii: "\n")]
    }

    /// One checked line of an export file, with its body and properties decoded.
    public struct Line: Sendable {
        public let line: Int
        public let message: ExportedMessage
        /// `message.bodyBytes()`.
        public let body: [UInt8]
        /// `message.amqpProperties()`.
        public let properties: AMQPProperties
    }

    /// Every message of a file with its line number; throws naming the first bad line (blank lines are skipped).
    public static func read(_ url: URL) throws -> [Line] {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw AdminError("cannot read \(url.path): \(error.localizedDescription)")
        }
        var messages: [Line] = []
        for (index, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            guard !line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") }) else { continue }
            do {
                let message = try decoder.decode(ExportedMessage.self, from: Data(line))
                guard message.format == ExportedMessage.formatVersion else { throw JSONLinesError("format \(message.format) is not supported") }
                let body = try message.bodyBytes()
                let properties = try message.amqpProperties()
                messages.append(Line(line: index + 1, message: message, body: body, properties: properties))
            } catch let error as JSONLinesError {
                throw AdminError("\(url.path), line \(index + 1): \(error.description); nothing was imported")
            } catch {
                throw AdminError("\(url.path), line \(index + 1): not an exported message (\(describe(error))); nothing was imported")
            }
        }
        return messages
    }

    static func describe(_ error: any Error) -> String {
        switch error as? DecodingError {
        case .keyNotFound(let key, let context)?: "missing \((context.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: "."))"
        case .typeMismatch(_, let context)?, .valueNotFound(_, let context)?, .dataCorrupted(let context)?:
            "\(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)"
        default: "\(error)"
        }
    }
}

/// A file written so that it survives a crash once `finish()` returns:
/// written, fsynced, closed, and its directory entry fsynced too.
final class DurableFile {
    let url: URL
    private var descriptor: Int32

    /// Creates the file; refuses to overwrite one unless `overwrite`.
    init(_ url: URL, overwrite: Bool) throws {
        self.url = url
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (overwrite ? O_TRUNC : O_EXCL)
        descriptor = open(url.path, flags, 0o600)
        guard descriptor >= 0 else {
            let code = errno
            if code == EEXIST { throw AdminError("\(url.path) already exists (use --force to overwrite it)") }
            throw AdminError("cannot create \(url.path): \(String(cString: strerror(code)))")
        }
    }

    func write(_ bytes: [UInt8]) throws {
        do {
            try FileDescriptorIO.writeAll(descriptor, bytes)
        } catch {
            throw AdminError("cannot write \(url.path): \(error)")
        }
    }

    /// fsync the file, close it, fsync its directory.
    func finish() throws {
        guard fsync(descriptor) == 0 else { throw AdminError("cannot fsync \(url.path): \(String(cString: strerror(errno)))") }
        close(descriptor)
        descriptor = -1
        let directory = open(url.deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directory >= 0 {
            defer { close(directory) }
            guard fsync(directory) == 0 else { throw AdminError("cannot fsync the directory of \(url.path): \(String(cString: strerror(errno)))") }
        }
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }
}
