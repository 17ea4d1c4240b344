import Foundation

/// UUID text without `UUID(uuidString:)`, which on Linux goes through
/// `sscanf` (in a profile of the worker, the largest single cost of decoding
/// a message), and without `uuidString`, which formats through `snprintf`.
public enum UUIDText {
    /// The 36-character `8-4-4-4-12` form, hex digits in either case. Stricter
    /// than `uuid_parse`'s `sscanf`, which also let signs and spaces through.
    public static func parse(_ text: String) -> UUID? {
        var text = text
        return text.withUTF8 { utf8 -> UUID? in
            guard utf8.count == 36 else { return nil }
            var bytes: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
            let parsed = withUnsafeMutableBytes(of: &bytes) { raw -> Bool in
                var position = 0
                for index in 0..<16 {
                    if position == 8 || position == 13 || position == 18 || position == 23 {
                        guard utf8[position] == UInt8(ascii: "-") else { return false }
                        position += 1
                    }
                    guard let high = hexDigitValue(utf8[position]), let low = hexDigitValue(utf8[position + 1]) else { return false }
                    raw[index] = high << 4 | low
                    position += 2
                }
                return true
            }
            return parsed ? UUID(uuid: bytes) : nil
        }
    }

    /// Appends the 36-character lower-case form (RFC 9562 section 4: "lowercase
    /// on output"), the one form every id is written in: API answers, messages,
    /// logs, SQL parameters. `uuidString` would be upper case.
    public static func append(_ value: UUID, to bytes: inout [UInt8]) {
        forEachByte(of: value) { bytes.append($0) }
    }

    /// The text of `append`.
    public static func string(_ value: UUID) -> String {
        String(unsafeUninitializedCapacity: 36) { buffer in
            var count = 0
            forEachByte(of: value) { byte in
                buffer[count] = byte
                count += 1
            }
            return count
        }
    }

    private static func forEachByte(of value: UUID, _ body: (UInt8) -> Void) {
        withUnsafeBytes(of: value.uuid) { raw in
            for (index, byte) in raw.enumerated() {
                if index == 4 || index == 6 || index == 8 || index == 10 { body(UInt8(ascii: "-")) }
                body(hexDigit(byte >> 4))
                body(hexDigit(byte & 0x0F))
            }
        }
    }
}
