import Foundation

/// A value in an AMQP field table (message headers, queue arguments).
///
/// The cases follow RabbitMQ's type tags, so a header read back has the
/// type it was written with: `x-retry-count` written as `.int64(1)` comes
/// back as `.int64(1)`, not as a string.
public enum AMQPValue: Sendable, Hashable {
    case bool(Bool)
    case int8(Int8)
    case uint8(UInt8)
    case int16(Int16)
    case uint16(UInt16)
    case int32(Int32)
    case uint32(UInt32)
    case int64(Int64)
    case uint64(UInt64)
    case float(Float)
    case double(Double)
    case decimal(scale: UInt8, value: UInt32)
    case string(String)
    case bytes([UInt8])
    case timestamp(UInt64)
    case array([AMQPValue])
    case table(AMQPTable)
    case void

    /// The value as an integer, whatever its integer width; nil for other kinds.
    public var intValue: Int? {
        switch self {
        case .int8(let v): Int(v)
        case .uint8(let v): Int(v)
        case .int16(let v): Int(v)
        case .uint16(let v): Int(v)
        case .int32(let v): Int(v)
        case .uint32(let v): Int(v)
        case .int64(let v): Int(exactly: v)
        case .uint64(let v): Int(exactly: v)
        default: nil
        }
    }

    public var stringValue: String? {
        switch self {
        case .string(let s): s
        case .bytes(let b): String(validating: b, as: UTF8.self)
        default: nil
        }
    }

    public var tableValue: AMQPTable? {
        if case .table(let t) = self { return t }
        return nil
    }

    public var arrayValue: [AMQPValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }
}

/// An AMQP field table. Encoded with its keys sorted, so the same table
/// always produces the same bytes.
public typealias AMQPTable = [String: AMQPValue]

extension AMQPValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByFloatLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    /// Integer literals become signed 64-bit values, RabbitMQ's `l` type.
    public init(integerLiteral value: Int64) { self = .int64(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: AMQPValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, AMQPValue)...) {
        self = .table(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
    public init(floatLiteral value: Double) { self = .double(value) }
}

extension AMQPValue: CustomStringConvertible {
    public var description: String {
        switch self {
        case .bool(let v): "\(v)"
        case .int8(let v): "\(v)"
        case .uint8(let v): "\(v)"
        case .int16(let v): "\(v)"
        case .uint16(let v): "\(v)"
        case .int32(let v): "\(v)"
        case .uint32(let v): "\(v)"
        case .int64(let v): "\(v)"
        case .uint64(let v): "\(v)"
        case .float(let v): "\(v)"
        case .double(let v): "\(v)"
        case .decimal(let scale, let value): "decimal(\(value)e-\(scale))"
        case .string(let v): "\"\(v)\""
        case .bytes(let v): "<\(v.count) bytes>"
        case .timestamp(let v): "timestamp(\(v))"
        case .array(let v): "[" + v.map(\.description).joined(separator: ", ") + "]"
        case .table(let t):
            "{" + t.keys.sorted().map { "\($0): \(t[$0]!.description)" }.joined(separator: ", ") + "}"
        case .void: "void"
        }
    }
}
