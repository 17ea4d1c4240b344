import Admin
import HTTPTypes
import Hummingbird
import Logging
import Postgres

/// Who may do what in the console: everyone reads; replays and purges need
/// a session (signed in with `CONSOLE_TOKEN`) and the session's CSRF token
/// in the form; without a token the console is read-only. What changed
/// something, and the refused attempts, go to the audit log.
struct ConsoleAccess: Sendable {
    /// nil: no CONSOLE_TOKEN, read-only.
    let sessions: ConsoleSessions?
    let database: PostgresPool
    let logger: Logger

    var readOnly: Bool { sessions == nil }

    func session(of request: Request) -> ConsoleSession? {
        guard let sessions, let value = request.cookies[ConsoleSessions.cookieName]?.value else { return nil }
        return sessions.session(fromCookie: value)
    }

    /// The CSRF token the session's forms carry.
    func csrf(for session: ConsoleSession) -> String? { sessions?.csrfToken(for: session) }

    /// A page with the navigation, saying who is signed in.
    func page(_ title: String, for request: Request, status: HTTPResponse.Status = .ok, _ content: String) -> Response {
        HTML.page(title, signedInAs: session(of: request)?.name, readOnly: readOnly, status: status, content)
    }

    /// The session allowed to act on this POST; throws a 403 refusal (read-only,
    /// not signed in, no valid CSRF token: the last is audited) and nothing changes.
    func authorize(_ request: Request, form: FormBody, context: ConsoleRequestContext) async throws -> ConsoleSession {
        guard let sessions else { throw ConsoleRefusal.readOnly }
        guard let session = session(of: request) else { throw ConsoleRefusal.notSignedIn }
        guard let presented = form["csrf"], sessions.isCSRFToken(presented, for: session) else {
            await audit(AuditEntry(
                who: who(session.name, context), action: "console.csrf-refused", target: request.uri.path, count: 0,
                detail: "a POST without this session's CSRF token"))
            throw ConsoleRefusal.badCSRF
        }
        return session
    }

    /// `console:<name> (<client address>)`.
    func who(_ name: String, _ context: ConsoleRequestContext) -> String {
        "console:\(name)" + (context.remoteAddress?.ipAddress.map { " (\($0))" } ?? "")
    }

    /// Appends to the audit log; what went wrong, for the page to say, when it could not.
    @discardableResult
    func audit(_ entry: AuditEntry) async -> String? {
        do {
            try await database.withConnection { try AuditLog.append(entry, on: $0) }
            return nil
        } catch {
            logger.error("audit log append failed", metadata: ["action": "\(entry.action)", "count": "\(entry.count)", "error": "\(error)"])
            return "The audit log did not record this (\(error))."
        }
    }
}
