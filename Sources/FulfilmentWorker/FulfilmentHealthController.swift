import HTTPSupport
import HTTPTypes
import Hummingbird
import Messaging

/// `GET /health/live` (the process answers) and `GET /health/ready`: 503
/// while the warehouse's breaker is open (orders wait in the retry queues
/// instead of going out), 200 with the breaker's state otherwise.
struct FulfilmentHealthController<Context: RequestContext>: Sendable {
    let breaker: CircuitBreaker

    func addRoutes(to router: HTTPRouter<Context>) {
        router.get("/health/live") { _, _ in try JSONResponse.make(["status": "ok"]) }
        router.get("/health/ready") { _, _ in
            let state = breaker.state
            let ready = state != .open
            return try JSONResponse.make(["status": ready ? "ready" : "not-ready", "wms": state.rawValue], status: ready ? .ok : .serviceUnavailable)
        }
    }
}
