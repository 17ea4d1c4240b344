import HTTPSupport
import Hummingbird
import Messaging
import Postgres

/// `GET /health/live` (the process answers) and `GET /health/ready` (broker and
/// database answer; when one does not, why: the broker's reply or libpq's reason).
struct HealthController<Context: RequestContext>: Sendable {
    let publisher: ReconnectingPublisher
    let database: PostgresPool

    func addRoutes(to router: HTTPRouter<Context>) {
        router.get("/health/live") { _, _ in try JSONResponse.make(["status": "ok"]) }
        router.get("/health/ready", use: ready)
    }

    private struct Readiness: Encodable {
        let status: String
        let broker: String
        let database: String
        /// Why the broker is down (e.g. `AMQP connectionClosed 403 ACCESS_REFUSED: login as 'orders' …`).
        let brokerError: String?
        /// Why the database is down (e.g. `password authentication failed for user "orders"`).
        let databaseError: String?
    }

    @Sendable func ready(_ request: Request, context: Context) async throws -> Response {
        async let brokerFailure = Self.failure { _ = try await publisher.currentChannel() }
        async let databaseFailure = Self.failure { _ = try await database.withConnection { try $0.query("SELECT 1") } }
        let (brokerError, databaseError) = await (brokerFailure, databaseFailure)
        let ready = brokerError == nil && databaseError == nil
        let readiness = Readiness(
            status: ready ? "ready" : "unavailable", broker: brokerError == nil ? "up" : "down",
            database: databaseError == nil ? "up" : "down", brokerError: brokerError, databaseError: databaseError)
        return try JSONResponse.make(readiness, status: ready ? .ok : .serviceUnavailable)
    }

    /// Why `check` failed, in words safe to answer with; nil when it did not.
    private static func failure(_ check: () async throws -> Void) async -> String? {
        do {
            try await check()
            return nil
        } catch let error as PostgresError {
            return error.reason
        } catch {
            return "\(error)"
        }
    }
}
