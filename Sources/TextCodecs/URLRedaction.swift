/// The one way the project hides a URL's password: every configuration
/// description, log line and error message that shows a connection URL goes
/// through here.
public enum URLRedaction {
    /// What stands where a password was.
    public static let mask = "***"

    /// `scheme://user:secret@host/…` → `scheme://user:***@host/…`; a URL
    /// without a password comes back unchanged.
    ///
    /// Works on the text, not on a parsed URL: a password that a URL parser
    /// refuses (an unescaped `/`, `#` or `@` in it) must be hidden all the
    /// same. The password runs from the first `:` of the user info to the
    /// last `@`, so an `@` inside it is hidden too; at worst more is hidden
    /// than the password.
    ///
    /// A comma-separated list of URLs (`AMQP_URLS`) has each one's password
    /// hidden; a PostgreSQL multi-host URL (`postgres://u:p@h1:5441,h2:5442/db`)
    /// is one URL. A list is cut only before a `scheme://`, and when a piece
    /// without an `@` comes before one with an `@` (the cut fell inside a
    /// password), the whole text is redacted as one URL instead.
    public static func redact(_ url: String) -> String {
        let pieces = url.split(separator: listSeparator, omittingEmptySubsequences: false)
        guard pieces.count > 1 else { return redactOne(url) }
        let lastWithAt = pieces.lastIndex { $0.contains("@") } ?? -1
        guard pieces[..<max(0, lastWithAt)].allSatisfy({ $0.contains("@") }) else { return redactOne(url) }
        return pieces.map { redactOne(String($0)) }.joined(separator: ",")
    }

    /// A comma that a `scheme://` follows.
    private nonisolated(unsafe) static let listSeparator = /,(?=\s*[A-Za-z][A-Za-z0-9+.\-]*:\/\/)/

    private static func redactOne(_ url: String) -> String {
        guard let schemeEnd = url.firstRange(of: "://") else { return url }
        let afterScheme = url[schemeEnd.upperBound...]
        guard let firstAt = afterScheme.firstIndex(of: "@"),
            let colon = afterScheme[..<firstAt].firstIndex(of: ":"),
            let lastAt = afterScheme.lastIndex(of: "@")
        else { return url }
        return url[..<afterScheme.index(after: colon)] + mask + url[lastAt...]
    }
}
