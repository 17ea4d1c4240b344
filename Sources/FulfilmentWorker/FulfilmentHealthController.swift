import HTTPSupport
import HTTPTypes
import Hummingbird
import Messaging
import ServiceSupport

/// `GET /health/live` (the process answers) and `GET /health/ready`: 503
/// while the warehouse's breaker is open (orders wait in the retry queues
/// instead of going out) or a dependency the worker waits for is away (the
/// database: its windows are held), 200 with the breaker's state otherwise.
struct FulfilmentHealthController<Context: RequestContext>: Sendable {
    let breaker: CircuitBreaker
    let status: DependencyStatus

    private struct Readiness: Encodable {
        let status: String
        let wms: String
        let unavailable: [DependencyStatus.Outage]
    }

    func addRoutes(to router: HTTPRouter<Context>) {
        router.get("/health/live") { _, _ in try JSONResponse.make(["status": "ok"]) }
        router.get("/health/ready") { _, _ in
            let state = breaker.state
            let unavailable = status.outages
            let ready = state != .open && unavailable.isEmpty
            return try JSONResponse.make(
                Readiness(status: ready ? "ready" : "not-ready", wms: state.rawValue, unavailable: unavailable), status: ready ? .ok : .serviceUnavailable)
        }
    }
}
