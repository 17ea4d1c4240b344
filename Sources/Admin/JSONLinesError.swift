/// Why a line of a `dlq export` file cannot be imported.
public struct JSONLinesError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
