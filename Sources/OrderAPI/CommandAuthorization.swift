import HTTPSupport
import Hummingbird
import Postgres
import OrderStore

/// Who may change an order or a hold (docs/security.md): the shop's own
/// backend, with `Authorization: Bearer <API_TOKEN>`. Reads stay open: an
/// order id is unguessable (it carries a MAC), so knowing it is the
/// capability to read the order, not to change it.
///
/// No token and a wrong token get the same 401, and an authorized request
/// for an order that does not exist a 404, so a caller without the token
/// learns nothing about which ids exist.
struct CommandAuthorization: Sendable {
    private let token: BearerToken?

    init(token: String?) {
        self.token = token.map(BearerToken.init)
    }

    func authorize(_ request: Request) throws {
        guard let token else {
            throw Problem(
                status: .forbidden, code: "commands-disabled", title: "Order and stock commands are disabled",
                detail: "set API_TOKEN to enable them")
        }
        guard token.isPresented(in: request) else {
            throw Problem(
                status: .unauthorized, code: "unauthorized", title: "Send Authorization: Bearer <API_TOKEN>",
                headers: [.wwwAuthenticate: #"Bearer realm="order-api""#])
        }
    }
}

extension Problem {
    /// A command's business refusal as its problem document.
    init(_ refusal: CommandRefusal) {
        let (status, title): (HTTPResponse.Status, String) =
            switch refusal.kind {
            case .notFound: (.notFound, "Not found")
            case .conflict: (.conflict, "Not possible in the current state")
            case .unprocessable: (.unprocessableContent, "The request cannot be carried out")
            }
        self.init(status: status, code: refusal.code, title: title, detail: refusal.message)
    }

    /// Runs a store command, answering its refusal as a problem. A command
    /// that lost a deadlock or a serialization conflict (with the order worker,
    /// the sweeper or stock-sync, which lock the same rows) rolled back whole,
    /// so it runs again, up to three times, before the client sees a 503.
    static func refusing<T>(_ command: () async throws -> T) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await command()
            } catch let refusal as CommandRefusal {
                throw Problem(refusal)
            } catch let error as PostgresError
                where attempt < 3 && (error.code == .deadlockDetected || error.code == .serializationFailure)
            {
                attempt += 1
                try await Task.sleep(for: .milliseconds(Int.random(in: 5...50)))
            }
        }
    }
}
