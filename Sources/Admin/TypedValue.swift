import AMQP
import Foundation
import OrderCore

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

    /// The export file's `{"type":…,"value":…}` object, for `dlq peek --output
    /// json`: written by this type's own encoding, so peek and export cannot
    /// disagree on a header's shape.
    public var json: JSONValue {
        (try? JSONValue.parse(JSONLines.encoder.encode(self))) ?? .null
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
