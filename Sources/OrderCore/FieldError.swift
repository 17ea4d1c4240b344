/// A field that failed validation, named by its JSON path (`items[3].quantity`).
public struct FieldError: Sendable, Hashable, Codable, CustomStringConvertible {
    public let field: String
    public let message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
}
