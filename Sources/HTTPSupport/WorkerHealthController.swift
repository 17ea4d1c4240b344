import Hummingbird
import ServiceSupport

/// `GET /health/live` (the process answers) and `GET /health/ready` of a
/// queue worker: 200 while it waits for nothing, 503 while a dependency its
/// loops need is away (they hold their windows meanwhile), naming each one
/// with since when and why.
public struct WorkerHealthController<Context: RequestContext>: Sendable {
    public let status: DependencyStatus

    public init(status: DependencyStatus) {
        self.status = status
    }

    public func addRoutes(to router: HTTPRouter<Context>) {
        router.get("/health/live") { _, _ in try JSONResponse.make(["status": "ok"]) }
        router.get("/health/ready") { _, _ in
            let readiness = Readiness(status)
            return try JSONResponse.make(readiness, status: readiness.ready ? .ok : .serviceUnavailable)
        }
    }

    /// The answer's body: `{"status": "ready"}`, or `"unavailable"` with each dependency that is away.
    public struct Readiness: Encodable, Sendable {
        public let status: String
        public let unavailable: [DependencyStatus.Outage]
        var ready: Bool { unavailable.isEmpty }

        public init(_ dependencies: DependencyStatus) {
            unavailable = dependencies.outages
            status = unavailable.isEmpty ? "ready" : "unavailable"
        }
    }
}
