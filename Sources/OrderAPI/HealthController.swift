import HTTPSupport
import Hummingbird
import Messaging
import Postgres

/// `GET /health/live` (the process answers) and `GET /health/ready` (broker and database answer).
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
    }

    @Sendable func ready(_ request: Request, context: Context) async throws -> Response {
        async let broker = publisher.isReady()
        async let databaseUp = (try? await database.withConnection { try $0.query("SELECT 1") }) != nil
        let (brokerUp, databaseAnswers) = await (broker, databaseUp)
        let ready = brokerUp && databaseAnswers
        let readiness = Readiness(
            status: ready ? "ready" : "unavailable", broker: brokerUp ? "up" : "down", database: databaseAnswers ? "up" : "down")
        return try JSONResponse.make(readiness, status: ready ? .ok : .serviceUnavailable)
    }
}
