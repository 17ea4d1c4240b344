/// A message that can never be processed: it goes to the DLQ at once.
public struct PoisonMessage: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Reason: String, Sendable {
        /// Not JSON at all.
        case undecodable = "undecodable-message"
        /// JSON, but missing fields or with wrong types or values.
        case invalid = "invalid-message"
    }

    public let reason: Reason
    public let detail: String

    public var description: String { "\(reason.rawValue): \(detail)" }
}
