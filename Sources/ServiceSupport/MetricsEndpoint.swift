import Logging

/// Where a queue worker serves `GET /metrics`: `METRICS_HOST` (127.0.0.1)
/// and `METRICS_PORT`, whose default is the worker's own (order-worker 9101,
/// vendor-sync-worker 9102, payment-worker 9103, channel-sync 9104), so the
/// workers of one machine do not collide. The daemons with an HTTP port of
/// their own serve it there instead.
public struct MetricsEndpoint: Sendable, Hashable {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var logMetadata: Logger.Metadata {
        [LogKey.metricsAddress: "\(host):\(port)"]
    }
}

extension EnvironmentConfiguration {
    /// `METRICS_HOST` (127.0.0.1) and `METRICS_PORT` (`defaultPort`).
    public func metricsEndpoint(defaultPort: Int) throws(ConfigurationError) -> MetricsEndpoint {
        MetricsEndpoint(host: string(.metricsHost, default: "127.0.0.1"), port: try int(.metricsPort, default: defaultPort, in: 0...65535))
    }
}

extension LogKey {
    public static let metricsAddress = "metrics_address"
}
