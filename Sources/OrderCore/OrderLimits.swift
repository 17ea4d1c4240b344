/// The limits an order must respect, wherever it comes from (HTTP or a queue).
public enum OrderLimits {
    public static let maxLines = 100
    public static let quantityRange = 1...1_000_000
    public static let productIdLength = 1...64

    /// `[A-Za-z0-9._-]`, 1 to 64 characters.
    public static func isValidProductId(_ id: String) -> Bool {
        productIdLength.contains(id.utf8.count)
            && id.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
            }
    }
}
