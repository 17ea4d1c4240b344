import AsyncHTTPClient
import ServiceLifecycle

/// A daemon's HTTP client for the calls it makes to one remote party (the
/// payment gateway, the warehouse), run as the daemon's service that closes
/// it: listed before the services that use it, it shuts down after them.
public struct OutboundHTTPClient: Service {
    public let client: HTTPClient

    /// One connection per call in flight: AsyncHTTPClient's default of 8 per
    /// host would make the calls beyond the eighth wait for a connection, and
    /// that wait counts against their deadline.
    public init(concurrency: Int) {
        client = HTTPClient(
            eventLoopGroup: HTTPClient.defaultEventLoopGroup,
            configuration: HTTPClient.Configuration(
                connectionPool: HTTPClient.Configuration.ConnectionPool(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: concurrency)))
    }

    public func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }
}
