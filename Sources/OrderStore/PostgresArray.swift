import Foundation
import Postgres
import TextCodecs

/// A one-dimensional array parameter in PostgreSQL's text form (`{"a","b"}`),
/// so a statement can take many rows at once through `unnest($1::text[])`
/// instead of one round trip per row.
struct PostgresArray: PostgresEncodable {
    let postgresText: String?

    init(_ strings: [String]) {
        self.init(optional: strings)
    }

    /// Text elements, nil as SQL NULL. Built byte by byte: a window of orders
    /// makes thousands of elements, and Foundation's string replacing was a
    /// tenth of the worker's CPU.
    init(optional strings: [String?]) {
        var bytes: [UInt8] = [UInt8(ascii: "{")]
        bytes.reserveCapacity(2 + strings.count * 40)
        for (index, element) in strings.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            guard let element else {
                bytes.append(contentsOf: "NULL".utf8)
                continue
            }
            bytes.append(UInt8(ascii: "\""))
            for byte in element.utf8 {
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { bytes.append(UInt8(ascii: "\\")) }
                bytes.append(byte)
            }
            bytes.append(UInt8(ascii: "\""))
        }
        bytes.append(UInt8(ascii: "}"))
        postgresText = String(decoding: bytes, as: UTF8.self)
    }

    /// The same text as `PostgresArray(uuids.map(UUIDText.string))`, without
    /// building a `String` per element.
    init(_ uuids: [UUID]) {
        var bytes: [UInt8] = [UInt8(ascii: "{")]
        bytes.reserveCapacity(2 + uuids.count * 39)
        for (index, uuid) in uuids.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(UInt8(ascii: "\""))
            UUIDText.append(uuid, to: &bytes)
            bytes.append(UInt8(ascii: "\""))
        }
        bytes.append(UInt8(ascii: "}"))
        postgresText = String(decoding: bytes, as: UTF8.self)
    }

    init(_ integers: [Int]) {
        postgresText = "{" + integers.map(String.init).joined(separator: ",") + "}"
    }
}
