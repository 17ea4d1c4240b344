/// Every field of a request or message that failed validation.
public struct ValidationFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public let errors: [FieldError]

    public init(_ errors: [FieldError]) { self.errors = errors }

    public var description: String { errors.map(\.description).joined(separator: "; ") }
}
