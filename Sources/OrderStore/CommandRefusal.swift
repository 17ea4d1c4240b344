import OrderCore

/// Why a lifecycle command (cancel, return, a checkout hold) changed
/// nothing: a business answer with a stable `code`, never a fault. The API
/// answers it as a problem document (404, 409 or 422 by `kind`).
public struct CommandRefusal: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// No such order or reservation.
        case notFound
        /// Its state does not allow it (an order that shipped, a hold that ended).
        case conflict
        /// The request asks for something that cannot be (returning more than was bought).
        case unprocessable
    }

    public let kind: Kind
    public let code: String
    public let message: String

    public init(_ kind: Kind, code: String, message: String) {
        self.kind = kind
        self.code = code
        self.message = message
    }

    /// The state machine's refusal, as the command's answer.
    init(_ refusal: TransitionRefusal) {
        self.init(.conflict, code: refusal.code, message: refusal.message)
    }

    public var description: String { "\(code): \(message)" }
}
