import Foundation
import TextCodecs

/// Reading a message body's fields, naming each wrong one.
enum MessageFields {
    /// The body as a JSON object; anything else is poison.
    static func object(_ body: [UInt8]) throws(PoisonMessage) -> [String: JSONValue] {
        let value: JSONValue
        do {
            value = try JSONValue.parse(body)
        } catch {
            throw PoisonMessage(reason: .undecodable, detail: "body is not JSON")
        }
        guard case .object(let object) = value else {
            throw PoisonMessage(reason: .invalid, detail: "body must be a JSON object, not \(value.typeName)")
        }
        return object
    }

    static func string(_ field: String, in object: [String: JSONValue], problems: inout [String]) -> String? {
        switch object[field] {
        case .string(let text)?: return text
        case nil: problems.append("\(field): is required")
        case let other?: problems.append("\(field): must be a string, not \(other.typeName)")
        }
        return nil
    }

    static func uuid(_ field: String, in object: [String: JSONValue], problems: inout [String]) -> UUID? {
        guard let text = string(field, in: object, problems: &problems) else { return nil }
        guard let id = UUIDText.parse(text) else {
            problems.append("\(field): not a UUID")
            return nil
        }
        return id
    }
}
