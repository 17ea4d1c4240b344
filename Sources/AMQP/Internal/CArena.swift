import CRabbitMQ
import Foundation

/// Owns the C memory that an outgoing method or message points into
/// (tables, strings, properties). Everything is freed when the arena goes,
/// so an arena lives exactly as long as the librabbitmq call that reads it.
final class CArena {
    private var blocks: [UnsafeMutableRawPointer] = []

    deinit {
        for block in blocks { free(block) }
    }

    static func with<T, E: Error>(_ body: (CArena) throws(E) -> T) throws(E) -> T {
        let arena = CArena()
        defer { withExtendedLifetime(arena) {} }
        return try body(arena)
    }

    private func allocate(_ byteCount: Int, alignment: Int = 16) -> UnsafeMutableRawPointer {
        let block = malloc(max(byteCount, 1))!
        blocks.append(block)
        return block
    }

    func bytes<C: Collection<UInt8>>(_ source: C) -> amqp_bytes_t {
        let count = source.count
        guard count > 0 else { return amqp_bytes_t(len: 0, bytes: nil) }
        let block = allocate(count)
        let buffer = UnsafeMutableRawBufferPointer(start: block, count: count)
        buffer.copyBytes(from: source)
        return amqp_bytes_t(len: count, bytes: block)
    }

    func bytes(_ string: String) -> amqp_bytes_t { bytes(string.utf8) }

    func table(_ table: AMQPTable) -> amqp_table_t {
        guard !table.isEmpty else { return amqp_table_t(num_entries: 0, entries: nil) }
        let entries = allocate(MemoryLayout<amqp_table_entry_t>.stride * table.count)
            .bindMemory(to: amqp_table_entry_t.self, capacity: table.count)
        for (index, key) in table.keys.sorted().enumerated() {
            (entries + index).initialize(to: amqp_table_entry_t(key: bytes(key), value: value(table[key]!)))
        }
        return amqp_table_t(num_entries: Int32(table.count), entries: entries)
    }

    func value(_ value: AMQPValue) -> amqp_field_value_t {
        var field = amqp_field_value_t()
        switch value {
        case .bool(let v): field.kind = kind("t"); field.value.boolean = v ? 1 : 0
        case .int8(let v): field.kind = kind("b"); field.value.i8 = v
        case .uint8(let v): field.kind = kind("B"); field.value.u8 = v
        case .int16(let v): field.kind = kind("s"); field.value.i16 = v
        case .uint16(let v): field.kind = kind("u"); field.value.u16 = v
        case .int32(let v): field.kind = kind("I"); field.value.i32 = v
        case .uint32(let v): field.kind = kind("i"); field.value.u32 = v
        case .int64(let v): field.kind = kind("l"); field.value.i64 = v
        case .uint64(let v): field.kind = kind("L"); field.value.u64 = v
        case .float(let v): field.kind = kind("f"); field.value.f32 = v
        case .double(let v): field.kind = kind("d"); field.value.f64 = v
        case .decimal(let scale, let v):
            field.kind = kind("D"); field.value.decimal = amqp_decimal_t(decimals: scale, value: v)
        case .string(let v): field.kind = kind("S"); field.value.bytes = bytes(v)
        case .bytes(let v): field.kind = kind("x"); field.value.bytes = bytes(v)
        case .timestamp(let v): field.kind = kind("T"); field.value.u64 = v
        case .table(let t): field.kind = kind("F"); field.value.table = table(t)
        case .array(let items):
            field.kind = kind("A")
            if items.isEmpty {
                field.value.array = amqp_array_t(num_entries: 0, entries: nil)
            } else {
                let entries = allocate(MemoryLayout<amqp_field_value_t>.stride * items.count)
                    .bindMemory(to: amqp_field_value_t.self, capacity: items.count)
                for (index, item) in items.enumerated() { (entries + index).initialize(to: self.value(item)) }
                field.value.array = amqp_array_t(num_entries: Int32(items.count), entries: entries)
            }
        case .void: field.kind = kind("V")
        }
        return field
    }

    func properties(_ properties: AMQPProperties) -> amqp_basic_properties_t {
        var p = amqp_basic_properties_t()
        var flags: UInt32 = 0
        func set(_ value: String?, _ flag: Int32, _ field: WritableKeyPath<amqp_basic_properties_t, amqp_bytes_t>) {
            guard let value else { return }
            p[keyPath: field] = bytes(value)
            flags |= UInt32(flag)
        }
        set(properties.contentType, AMQP_BASIC_CONTENT_TYPE_FLAG, \.content_type)
        set(properties.contentEncoding, AMQP_BASIC_CONTENT_ENCODING_FLAG, \.content_encoding)
        set(properties.correlationID, AMQP_BASIC_CORRELATION_ID_FLAG, \.correlation_id)
        set(properties.replyTo, AMQP_BASIC_REPLY_TO_FLAG, \.reply_to)
        set(properties.expiration, AMQP_BASIC_EXPIRATION_FLAG, \.expiration)
        set(properties.messageID, AMQP_BASIC_MESSAGE_ID_FLAG, \.message_id)
        set(properties.type, AMQP_BASIC_TYPE_FLAG, \.type)
        set(properties.userID, AMQP_BASIC_USER_ID_FLAG, \.user_id)
        set(properties.appID, AMQP_BASIC_APP_ID_FLAG, \.app_id)
        if !properties.headers.isEmpty {
            p.headers = table(properties.headers)
            flags |= UInt32(AMQP_BASIC_HEADERS_FLAG)
        }
        if let mode = properties.deliveryMode {
            p.delivery_mode = mode.rawValue
            flags |= UInt32(AMQP_BASIC_DELIVERY_MODE_FLAG)
        }
        if let priority = properties.priority {
            p.priority = priority
            flags |= UInt32(AMQP_BASIC_PRIORITY_FLAG)
        }
        if let timestamp = properties.timestamp {
            p.timestamp = UInt64(max(0, timestamp.timeIntervalSince1970.rounded(.down)))
            flags |= UInt32(AMQP_BASIC_TIMESTAMP_FLAG)
        }
        p._flags = flags
        return p
    }

    private func kind(_ tag: Unicode.Scalar) -> UInt8 { UInt8(ascii: tag) }
}

/// Copies out of librabbitmq's memory into Swift values. Nothing returned
/// here points into C memory, so the frame or message can be freed after.
enum CDecode {
    static func bytes(_ b: amqp_bytes_t) -> [UInt8] {
        guard b.len > 0, let start = b.bytes else { return [] }
        return Array(UnsafeRawBufferPointer(start: start, count: b.len))
    }

    static func string(_ b: amqp_bytes_t) -> String {
        guard b.len > 0, let start = b.bytes else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: start, count: b.len), as: UTF8.self)
    }

    static func table(_ t: amqp_table_t) -> AMQPTable {
        guard t.num_entries > 0, let entries = t.entries else { return [:] }
        var result = AMQPTable(minimumCapacity: Int(t.num_entries))
        for index in 0..<Int(t.num_entries) {
            let entry = entries[index]
            result[string(entry.key)] = value(entry.value)
        }
        return result
    }

    static func value(_ field: amqp_field_value_t) -> AMQPValue {
        switch Unicode.Scalar(field.kind) {
        case "t": .bool(field.value.boolean != 0)
        case "b": .int8(field.value.i8)
        case "B": .uint8(field.value.u8)
        case "s": .int16(field.value.i16)
        case "u": .uint16(field.value.u16)
        case "I": .int32(field.value.i32)
        case "i": .uint32(field.value.u32)
        case "l": .int64(field.value.i64)
        case "L": .uint64(field.value.u64)
        case "f": .float(field.value.f32)
        case "d": .double(field.value.f64)
        case "D": .decimal(scale: field.value.decimal.decimals, value: field.value.decimal.value)
        case "S": .string(string(field.value.bytes))
        case "x": .bytes(bytes(field.value.bytes))
        case "T": .timestamp(field.value.u64)
        case "F": .table(table(field.value.table))
        case "A":
            .array(
                field.value.array.num_entries > 0
                    ? (0..<Int(field.value.array.num_entries)).map { value(field.value.array.entries[$0]) } : [])
        default: .void
        }
    }

    static func properties(_ p: amqp_basic_properties_t) -> AMQPProperties {
        let flags = p._flags
        func has(_ flag: Int32) -> Bool { flags & UInt32(flag) != 0 }
        func text(_ flag: Int32, _ b: amqp_bytes_t) -> String? { has(flag) ? string(b) : nil }
        return AMQPProperties(
            contentType: text(AMQP_BASIC_CONTENT_TYPE_FLAG, p.content_type),
            contentEncoding: text(AMQP_BASIC_CONTENT_ENCODING_FLAG, p.content_encoding),
            headers: has(AMQP_BASIC_HEADERS_FLAG) ? table(p.headers) : [:],
            deliveryMode: has(AMQP_BASIC_DELIVERY_MODE_FLAG) ? AMQPProperties.DeliveryMode(rawValue: p.delivery_mode) : nil,
            priority: has(AMQP_BASIC_PRIORITY_FLAG) ? p.priority : nil,
            correlationID: text(AMQP_BASIC_CORRELATION_ID_FLAG, p.correlation_id),
            replyTo: text(AMQP_BASIC_REPLY_TO_FLAG, p.reply_to),
            expiration: text(AMQP_BASIC_EXPIRATION_FLAG, p.expiration),
            messageID: text(AMQP_BASIC_MESSAGE_ID_FLAG, p.message_id),
            timestamp: has(AMQP_BASIC_TIMESTAMP_FLAG) ? Date(timeIntervalSince1970: TimeInterval(p.timestamp)) : nil,
            type: text(AMQP_BASIC_TYPE_FLAG, p.type),
            userID: text(AMQP_BASIC_USER_ID_FLAG, p.user_id),
            appID: text(AMQP_BASIC_APP_ID_FLAG, p.app_id)
        )
    }
}
