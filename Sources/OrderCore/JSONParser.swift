import TextCodecs

extension JSONValue {
    /// Nesting beyond this is an error rather than deeper recursion, so a
    /// hostile body can never overflow the stack.
    public static let maximumDepth = 64

    /// Parses one RFC 8259 JSON text, strictly.
    ///
    /// Why by hand rather than `JSONDecoder` straight into the Codable types:
    /// the validation needs it, and it is faster. JSONDecoder stops at the
    /// first error, where `POST /order` and a `PoisonMessage` name every wrong
    /// field with its JSON type (`true` is not a quantity, `2.5` is not an
    /// integer). And `scripts/bench-json` (package-benchmark, median per
    /// decode, 2-core x86_64 VM, Swift 6.3.1 on Linux) measured this parser
    /// with the validation against JSONDecoder without any:
    /// `OrderPlaced` (3 lines) 2.9 µs and 18 mallocs against 9.1 µs and 40;
    /// `VendorMovement` 1.0 µs and 3 against 4.7 µs and 22;
    /// a 3-line `POST /order` body 2.0 µs and 14 against 6.6 µs and 33.
    ///
    /// Numbers: a literal whose value is an integer that fits `Int64` is
    /// `.integer` (also `1.0` or `2e2`, as JSONDecoder reads them into Int64),
    /// anything else `.number`. Integrality is decided on the decimal text, not
    /// on the rounded Double. An object that repeats a key is an error
    /// (`.duplicateKey`, naming the key's path): readers disagree on which
    /// value counts, so a body that says `productId` twice is refused rather
    /// than read as one of them.
    public static func parse(_ bytes: some Collection<UInt8>) throws(JSONSyntaxError) -> JSONValue {
        let result = bytes.withContiguousStorageIfAvailable(parseResult)
            ?? Array(bytes).withUnsafeBufferPointer(parseResult)
        return try result.get()
    }

    private static func parseResult(_ buffer: UnsafeBufferPointer<UInt8>) -> Result<JSONValue, JSONSyntaxError> {
        var parser = JSONParser(input: buffer)
        do {
            return .success(try parser.parseDocument())
        } catch {
            return .failure(error)
        }
    }
}

private enum ASCII {
    static let quote = UInt8(ascii: "\"")
    static let backslash = UInt8(ascii: "\\")
    static let slash = UInt8(ascii: "/")
    static let comma = UInt8(ascii: ",")
    static let colon = UInt8(ascii: ":")
    static let openBrace = UInt8(ascii: "{")
    static let closeBrace = UInt8(ascii: "}")
    static let openBracket = UInt8(ascii: "[")
    static let closeBracket = UInt8(ascii: "]")
    static let minus = UInt8(ascii: "-")
    static let plus = UInt8(ascii: "+")
    static let dot = UInt8(ascii: ".")
    static let zero = UInt8(ascii: "0")
    static let nine = UInt8(ascii: "9")
}

private struct JSONParser {
    let input: UnsafeBufferPointer<UInt8>
    var index = 0
    var depth = 0

    init(input: UnsafeBufferPointer<UInt8>) { self.input = input }

    mutating func parseDocument() throws(JSONSyntaxError) -> JSONValue {
        let value = try parseValue()
        skipWhitespace()
        guard index == input.count else { throw failure(.trailingContent) }
        return value
    }

    private func failure(_ reason: JSONSyntaxError.Reason, at offset: Int? = nil) -> JSONSyntaxError {
        JSONSyntaxError(reason: reason, offset: offset ?? index)
    }

    /// The error for the byte at `index`, which was not what the grammar allows.
    private func unexpected() -> JSONSyntaxError {
        failure(index < input.count ? .unexpectedByte : .unexpectedEnd)
    }

    @inline(__always)
    private mutating func skipWhitespace() {
        while index < input.count {
            switch input[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private mutating func parseValue() throws(JSONSyntaxError) -> JSONValue {
        skipWhitespace()
        guard index < input.count else { throw failure(.unexpectedEnd) }
        switch input[index] {
        case ASCII.openBrace: return try parseObject()
        case ASCII.openBracket: return try parseArray()
        case ASCII.quote: return .string(try parseString())
        case UInt8(ascii: "t"): try parseLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try parseLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try parseLiteral("null"); return .null
        case ASCII.minus, ASCII.zero...ASCII.nine: return try parseNumber()
        default: throw failure(.unexpectedByte)
        }
    }

    private mutating func parseLiteral(_ literal: StaticString) throws(JSONSyntaxError) {
        let expected = UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
        for byte in expected {
            guard index < input.count, input[index] == byte else { throw unexpected() }
            index += 1
        }
    }

    private mutating func enterContainer() throws(JSONSyntaxError) {
        depth += 1
        guard depth <= JSONValue.maximumDepth else { throw failure(.tooDeep) }
        index += 1
    }

    /// `index` is at the closing byte.
    private mutating func leaveContainer() {
        index += 1
        depth -= 1
    }

    private mutating func parseObject() throws(JSONSyntaxError) -> JSONValue {
        try enterContainer()
        var object: [String: JSONValue] = [:]
        if closesEmpty(ASCII.closeBrace) { return .object(object) }
        // Room for a typical message's fields up front: growing rehashes every key.
        object.reserveCapacity(8)
        while true {
            skipWhitespace()
            guard index < input.count, input[index] == ASCII.quote else { throw unexpected() }
            let keyStart = index
            let key = try parseString()
            skipWhitespace()
            guard index < input.count, input[index] == ASCII.colon else { throw unexpected() }
            index += 1
            let value: JSONValue
            do {
                value = try parseValue()
            } catch {
                throw error.inside(key)
            }
            // One hash for both the check and the insertion.
            if object.updateValue(value, forKey: key) != nil {
                throw JSONSyntaxError(reason: .duplicateKey, offset: keyStart, path: key)
            }
            if try closesAfterMember(ASCII.closeBrace) { return .object(object) }
        }
    }

    private mutating func parseArray() throws(JSONSyntaxError) -> JSONValue {
        try enterContainer()
        var array: [JSONValue] = []
        if closesEmpty(ASCII.closeBracket) { return .array(array) }
        while true {
            do {
                array.append(try parseValue())
            } catch {
                throw error.inside("[\(array.count)]")
            }
            if try closesAfterMember(ASCII.closeBracket) { return .array(array) }
        }
    }

    /// Right after the opening byte: true (and the container is left) when `close` follows at once.
    private mutating func closesEmpty(_ close: UInt8) -> Bool {
        skipWhitespace()
        guard index < input.count, input[index] == close else { return false }
        leaveContainer()
        return true
    }

    /// After a member: a comma (false: another member follows) or `close`
    /// (true: the container is left); anything else is an error.
    private mutating func closesAfterMember(_ close: UInt8) throws(JSONSyntaxError) -> Bool {
        skipWhitespace()
        guard index < input.count else { throw failure(.unexpectedEnd) }
        switch input[index] {
        case ASCII.comma:
            index += 1
            return false
        case close:
            leaveContainer()
            return true
        default:
            throw failure(.unexpectedByte)
        }
    }

    // MARK: Strings

    /// `index` is at the opening quote.
    private mutating func parseString() throws(JSONSyntaxError) -> String {
        index += 1
        let start = index
        // Most strings have no escapes: validate in place and copy once.
        while index < input.count {
            let byte = input[index]
            if byte == ASCII.quote {
                let text = String(decoding: UnsafeBufferPointer(rebasing: input[start..<index]), as: UTF8.self)
                index += 1
                return text
            }
            if byte == ASCII.backslash { break }
            if byte < 0x20 { throw failure(.controlCharacter) }
            if byte < 0x80 { index += 1 } else { try skipUTF8Sequence() }
        }
        guard index < input.count else { throw failure(.unexpectedEnd) }

        var bytes = Array(UnsafeBufferPointer(rebasing: input[start..<index]))
        while index < input.count {
            let byte = input[index]
            switch byte {
            case ASCII.quote:
                index += 1
                return String(decoding: bytes, as: UTF8.self)
            case ASCII.backslash:
                try appendEscape(to: &bytes)
            case ..<0x20:
                throw failure(.controlCharacter)
            case ..<0x80:
                bytes.append(byte)
                index += 1
            default:
                let sequenceStart = index
                try skipUTF8Sequence()
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: input[sequenceStart..<index]))
            }
        }
        throw failure(.unexpectedEnd)
    }

    /// Steps over one well-formed UTF-8 sequence of 2 to 4 bytes (Unicode 15,
    /// table 3-7: no overlong forms, no surrogates, nothing above U+10FFFF).
    private mutating func skipUTF8Sequence() throws(JSONSyntaxError) {
        let lead = input[index]
        let length: Int
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; secondRange = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; secondRange = 0x80...0x9F
        case 0xF0: length = 4; secondRange = 0x90...0xBF
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; secondRange = 0x80...0x8F
        default: throw failure(.invalidUTF8)
        }
        guard index + length <= input.count, secondRange.contains(input[index + 1]) else { throw failure(.invalidUTF8) }
        for offset in 2..<length where input[index + offset] & 0xC0 != 0x80 {
            throw failure(.invalidUTF8)
        }
        index += length
    }

    /// `index` is at the backslash.
    private mutating func appendEscape(to bytes: inout [UInt8]) throws(JSONSyntaxError) {
        let escapeStart = index
        index += 1
        guard index < input.count else { throw failure(.unexpectedEnd) }
        let simple: UInt8
        switch input[index] {
        case ASCII.quote: simple = ASCII.quote
        case ASCII.backslash: simple = ASCII.backslash
        case ASCII.slash: simple = ASCII.slash
        case UInt8(ascii: "b"): simple = 0x08
        case UInt8(ascii: "f"): simple = 0x0C
        case UInt8(ascii: "n"): simple = 0x0A
        case UInt8(ascii: "r"): simple = 0x0D
        case UInt8(ascii: "t"): simple = 0x09
        case UInt8(ascii: "u"):
            index += 1
            let unit = try parseHex4()
            var scalar = unit
            switch unit {
            case 0xD800...0xDBFF:
                guard index + 1 < input.count, input[index] == ASCII.backslash, input[index + 1] == UInt8(ascii: "u") else {
                    throw failure(.loneSurrogate, at: escapeStart)
                }
                index += 2
                let low = try parseHex4()
                guard (0xDC00...0xDFFF).contains(low) else { throw failure(.loneSurrogate, at: escapeStart) }
                scalar = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
            case 0xDC00...0xDFFF:
                throw failure(.loneSurrogate, at: escapeStart)
            default:
                break
            }
            appendUTF8(scalar, to: &bytes)
            return
        default:
            throw failure(.invalidEscape, at: escapeStart)
        }
        bytes.append(simple)
        index += 1
    }

    private mutating func parseHex4() throws(JSONSyntaxError) -> UInt32 {
        guard index + 4 <= input.count else { throw failure(.unexpectedEnd) }
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let digit = hexDigitValue(input[index]) else { throw failure(.invalidEscape) }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    private func appendUTF8(_ scalar: UInt32, to bytes: inout [UInt8]) {
        switch scalar {
        case ..<0x80:
            bytes.append(UInt8(scalar))
        case ..<0x800:
            bytes.append(UInt8(0xC0 | scalar >> 6))
            bytes.append(UInt8(0x80 | scalar & 0x3F))
        case ..<0x10000:
            bytes.append(UInt8(0xE0 | scalar >> 12))
            bytes.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            bytes.append(UInt8(0x80 | scalar & 0x3F))
        default:
            bytes.append(UInt8(0xF0 | scalar >> 18))
            bytes.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            bytes.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            bytes.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    // MARK: Numbers

    @inline(__always)
    private func isDigit(at position: Int) -> Bool {
        position < input.count && (ASCII.zero...ASCII.nine).contains(input[position])
    }

    private mutating func parseNumber() throws(JSONSyntaxError) -> JSONValue {
        let start = index
        let negative = input[index] == ASCII.minus
        if negative { index += 1 }
        guard isDigit(at: index) else { throw unexpected() }

        // Accumulated as a negative number so Int64.min fits.
        var value: Int64 = 0
        var overflow = false
        if input[index] == ASCII.zero {
            index += 1
            if isDigit(at: index) { throw failure(.invalidNumber) }
        } else {
            while isDigit(at: index) {
                let digit = Int64(input[index] - ASCII.zero)
                let (times10, o1) = value.multipliedReportingOverflow(by: 10)
                let (next, o2) = times10.subtractingReportingOverflow(digit)
                overflow = overflow || o1 || o2
                value = next
                index += 1
            }
        }
        var isIntegerLiteral = true
        if index < input.count, input[index] == ASCII.dot {
            isIntegerLiteral = false
            index += 1
            guard isDigit(at: index) else { throw unexpected() }
            while isDigit(at: index) { index += 1 }
        }
        if index < input.count, input[index] | 0x20 == UInt8(ascii: "e") {
            isIntegerLiteral = false
            index += 1
            if index < input.count, input[index] == ASCII.plus || input[index] == ASCII.minus { index += 1 }
            guard isDigit(at: index) else { throw unexpected() }
            while isDigit(at: index) { index += 1 }
        }

        if isIntegerLiteral, !overflow {
            if negative { return .integer(value) }
            if value != .min { return .integer(-value) }
        }
        let literal = UnsafeBufferPointer(rebasing: input[start..<index])
        if !isIntegerLiteral, let integer = Self.exactInteger(literal) {
            return .integer(integer)
        }
        // Underflow gives the nearest Double, ±0; overflow has no nearest Double.
        guard let double = Double(String(decoding: literal, as: UTF8.self)), double.isFinite else {
            throw failure(.numberOutOfRange, at: start)
        }
        return .number(double)
    }

    /// The literal's value when it is an integer in Int64's range, computed on
    /// the decimal digits (so `1.0000000000000000001` is not an integer).
    private static func exactInteger(_ literal: UnsafeBufferPointer<UInt8>) -> Int64? {
        var position = 0
        let negative = literal[0] == ASCII.minus
        if negative { position += 1 }

        // Significant digits without leading zeros, and the power of ten they are scaled by.
        var digits: [UInt8] = []
        var scale = 0
        var inFraction = false
        while position < literal.count {
            let byte = literal[position]
            if byte == ASCII.dot {
                inFraction = true
            } else if byte >= ASCII.zero, byte <= ASCII.nine {
                if !(digits.isEmpty && byte == ASCII.zero) { digits.append(byte - ASCII.zero) }
                if inFraction { scale -= 1 }
            } else {
                break
            }
            position += 1
        }
        if position < literal.count {
            // The exponent; saturated, since anything this large is far outside Int64.
            position += 1
            var exponentNegative = false
            if literal[position] == ASCII.minus || literal[position] == ASCII.plus {
                exponentNegative = literal[position] == ASCII.minus
                position += 1
            }
            var exponent = 0
            while position < literal.count {
                exponent = min(exponent * 10 + Int(literal[position] - ASCII.zero), 1_000_000)
                position += 1
            }
            scale += exponentNegative ? -exponent : exponent
        }
        while let last = digits.last, last == 0 {
            digits.removeLast()
            scale += 1
        }
        if digits.isEmpty { return 0 }
        guard scale >= 0, digits.count + scale <= 19 else { return nil }

        var magnitude: UInt64 = 0
        for digit in digits { magnitude = magnitude * 10 + UInt64(digit) }
        for _ in 0..<scale {
            let (next, overflow) = magnitude.multipliedReportingOverflow(by: 10)
            if overflow { return nil }
            magnitude = next
        }
        if negative {
            return magnitude <= UInt64(Int64.max) + 1 ? Int64(truncatingIfNeeded: 0 &- magnitude) : nil
        }
        return Int64(exactly: magnitude)
    }
}
