import Foundation
import TextCodecs

/// A message body's fields as they are read, with a problem noted for each
/// wrong one, so the poison names them all rather than the first.
struct MessageFields {
    private let object: [String: JSONValue]
    private(set) var problems: [String] = []

    /// The body as a JSON object; anything else is poison.
    init(_ body: [UInt8]) throws(PoisonMessage) {
        object = try Self.object(body)
    }

    /// The fields of an object read already (an entry of a batch).
    init(object: [String: JSONValue]) {
        self.object = object
    }

    /// The body parsed as a JSON object; anything else is poison.
    static func object(_ body: [UInt8]) throws(PoisonMessage) -> [String: JSONValue] {
        let value: JSONValue
        do {
            value = try JSONValue.parse(body)
        } catch {
            // A repeated key is well-formed JSON whose meaning is ambiguous: an invalid
            // message naming the field, not an undecodable one.
            if let field = error.duplicateField {
                throw PoisonMessage(reason: .invalid, detail: "\(field.field): \(field.message)")
            }
            throw PoisonMessage(reason: .undecodable, detail: "body is not JSON")
        }
        guard case .object(let object) = value else {
            throw PoisonMessage(reason: .invalid, detail: "body must be a JSON object, not \(value.typeName)")
        }
        return object
    }

    subscript(field: String) -> JSONValue? { object[field] }

    mutating func note(_ problem: String) { problems.append(problem) }

    /// Every problem noted, as one invalid-message poison.
    var poison: PoisonMessage { PoisonMessage(reason: .invalid, detail: problems.joined(separator: "; ")) }

    mutating func string(_ field: String) -> String? {
        switch object[field] {
        case .string(let text)?: return text
        case nil: note("\(field): is required")
        case let other?: note("\(field): must be a string, not \(other.typeName)")
        }
        return nil
    }

    mutating func uuid(_ field: String) -> UUID? {
        guard let text = string(field) else { return nil }
        guard let id = UUIDText.parse(text) else {
            note("\(field): not a UUID")
            return nil
        }
        return id
    }
}
