import Foundation
import TextCodecs

/// Appends JSON text to bytes, for the hand-written message encoders. Output
/// matches `MessageCoding.encoder` (JSONEncoder with `.withoutEscapingSlashes`)
/// byte for byte; the keys' order is the caller's job.
struct JSONWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int) { bytes.reserveCapacity(capacity) }

    mutating func raw(_ text: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// A quoted string, escaped as JSONEncoder does (see `JSONText.appendString`).
    mutating func string(_ value: String) {
        JSONText.appendString(value, to: &bytes)
    }

    mutating func integer(_ value: Int) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { buffer in
            var start = buffer.count
            repeat {
                start -= 1
                buffer[start] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            bytes.append(contentsOf: buffer[start...])
        }
    }

    /// As `uuidString`: uppercase, 8-4-4-4-12.
    mutating func uuid(_ value: UUID) {
        UUIDText.append(value, to: &bytes)
    }

    /// `MessageCoding.formatDate(date)` as a JSON string (it never needs escaping).
    mutating func date(_ date: Date) {
        bytes.append(UInt8(ascii: "\""))
        MessageCoding.appendDate(date, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }
}
