/// What a broker user may do on a vhost: three regular expressions over
/// resource names, as RabbitMQ's `set_permissions` takes them.
public struct BrokerPermissions: Sendable, Hashable {
    /// Declare and delete (queues, exchanges).
    public let configure: String
    /// Publish to an exchange; bind to a queue.
    public let write: String
    /// Consume, get and purge a queue.
    public let read: String

    /// A pattern that matches exactly these names, and names of the form
    /// `namePatterns` (regular expressions of their own), and nothing else.
    static func exactly(_ names: [String], namePatterns: [String] = []) -> String {
        "^(" + (names.map(escaped) + namePatterns).joined(separator: "|") + ")$"
    }

    /// `name` with every character a regular expression treats specially
    /// escaped, so a prefix such as `test-1.` matches only itself.
    private static func escaped(_ name: String) -> String {
        var pattern = ""
        for character in name {
            if "\\^$.|?*+()[]{}".contains(character) { pattern.append("\\") }
            pattern.append(character)
        }
        return pattern
    }
}
