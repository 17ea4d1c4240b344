import AMQP
import Foundation

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
