import HTTPTypes

/// A request the console turns down, shown as a page with its status.
struct ConsoleRefusal: Error {
    let status: HTTPResponse.Status
    let title: String
    let message: String

    static let readOnly = ConsoleRefusal(
        status: .forbidden, title: "Read-only console",
        message: "This console has no CONSOLE_TOKEN, so it only shows: replays and purges are refused. Set CONSOLE_TOKEN and restart order-console to act.")

    static let notSignedIn = ConsoleRefusal(
        status: .forbidden, title: "Sign in first", message: "Replays and purges need a sign-in with the console token. Nothing was changed.")

    static let badCSRF = ConsoleRefusal(
        status: .forbidden, title: "Refused",
        message: "The form did not carry this session's CSRF token (an old page, or a page from elsewhere). Nothing was changed.")
}
