/// How a command prints its result.
public enum OutputFormat: String, CaseIterable, Sendable {
    case table, json
}

/// What a command prints: text for a person (`--output table`) or JSON for a script (`--output json`).
public protocol Renderable: Sendable {
    func render(_ format: OutputFormat) -> String
}
