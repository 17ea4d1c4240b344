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
    public static func redact(_ url: String) -> String {
        guard let schemeEnd = url.firstRange(of: "://") else { return url }
        let afterScheme = url[schemeEnd.upperBound...]
        guard let firstAt = afterScheme.firstIndex(of: "@"),
            let colon = afterScheme[..<firstAt].firstIndex(of: ":"),
            let lastAt = afterScheme.lastIndex(of: "@")
        else { return url }
        return url[..<afterScheme.index(after: colon)] + mask + url[lastAt...]
    }
}
