import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import ServiceSupport

/// `GET /metrics`: the process's metrics (``ProcessMetrics``) in
/// Prometheus's text format, on every daemon's HTTP server and on the
/// queue workers' ``MetricsServer``.
public struct MetricsController<Context: RequestContext>: Sendable {
    public init() {}

    public func addRoutes(to router: HTTPRouter<Context>) {
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: ProcessMetrics.contentType],
                body: .init(byteBuffer: ByteBuffer(bytes: ProcessMetrics.exposition())))
        }
    }
}

/// The HTTP server of a daemon that has no other (a queue worker):
/// `GET /metrics` and its health (``WorkerHealthController``, from the
/// process's ``DependencyStatus``), on its ``MetricsEndpoint``. A `Service`:
/// it stops gracefully with the daemon's group.
public enum MetricsServer {
    public static func make(
        _ endpoint: MetricsEndpoint, serverName: String, status: DependencyStatus = .process, logger: Logger
    ) -> any Service {
        Application(
            router: router(status: status), configuration: .init(address: .hostname(endpoint.host, port: endpoint.port), serverName: serverName),
            logger: logger)
    }

    /// Its routes, which tests drive in-process.
    public static func router(status: DependencyStatus = .process) -> HTTPRouter<BasicRequestContext> {
        let router = HTTPRouter(context: BasicRequestContext.self)
        router.add(middleware: ProblemMiddleware())
        MetricsController().addRoutes(to: router)
        WorkerHealthController(status: status).addRoutes(to: router)
        return router
    }
}
