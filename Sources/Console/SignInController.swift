import Admin
import Foundation
import HTTPTypes
import HTTPSupport
import Hummingbird

/// `/sign-in` and `/sign-out`: the token form and the session cookie
/// (HttpOnly, SameSite=Strict, Path=/, expiring with the session).
struct SignInController: Sendable {
    let access: ConsoleAccess

    func addRoutes(to router: HTTPRouter<ConsoleRequestContext>) {
        router.get("/sign-in") { request, _ in form(request) }
        router.post("/sign-in") { request, context in try await signIn(request, context: context) }
        router.post("/sign-out") { _, _ in
            Response(
                status: .seeOther,
                headers: [.location: "/queues", .setCookie: "\(ConsoleSessions.cookieName)=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict"])
        }
    }

    private func form(_ request: Request, status: HTTPResponse.Status = .ok, problem: String? = nil) -> Response {
        guard !access.readOnly else {
            return access.page("Sign in", for: request, status: .forbidden, "<p class=\"notice\">\(HTML.escape(ConsoleRefusal.readOnly.message))</p>")
        }
        let notice = problem.map { "<p class=\"notice warn\">\(HTML.escape($0))</p>" } ?? ""
        return access.page(
            "Sign in", for: request, status: status,
            """
            \(notice)
            <form method="post" action="/sign-in">
            <p><label>Your name (for the audit log) <input name="name" id="name" maxlength="64" autocomplete="username"></label></p>
            <p><label>Console token <input name="token" id="token" type="password" autocomplete="current-password"></label></p>
            <p><button class="primary" id="sign-in">Sign in</button></p>
            </form>
            """)
    }

    private func signIn(_ request: Request, context: ConsoleRequestContext) async throws -> Response {
        guard let sessions = access.sessions else { throw ConsoleRefusal.readOnly }
        let form = try await FormBody.read(request)
        let name = String((form["name"] ?? "operator").filter { !$0.isNewline && $0 != "\0" }.prefix(64))
        guard let token = form["token"], sessions.isToken(token) else {
            await access.audit(AuditEntry(
                who: access.who(name, context), action: "console.sign-in-refused", target: "/sign-in", count: 0, detail: "wrong console token"))
            return self.form(request, status: .unauthorized, problem: "That is not the console token.")
        }
        let (session, cookie) = sessions.start(name: name)
        let maxAge = Int(session.expires.timeIntervalSinceNow.rounded(.down))
        return Response(
            status: .seeOther,
            headers: [
                .location: "/dead-letters",
                .setCookie: "\(ConsoleSessions.cookieName)=\(cookie); Max-Age=\(maxAge); Path=/; HttpOnly; SameSite=Strict",
            ])
    }
}
