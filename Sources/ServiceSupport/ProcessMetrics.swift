import Metrics
import Prometheus

/// The process's metrics: one Prometheus registry behind swift-metrics, so
/// the modules that count use `Counter`, `Gauge`, `Recorder` and `Timer` and
/// only this file knows the backend. `MetricsSystem.bootstrap` may run once
/// per process, and the tests run many daemons in one process, so the
/// registry is made and bootstrapped on first use and every later call finds
/// it: ``Daemon/run(_:_:)`` calls ``bootstrap()`` before it builds a daemon,
/// and so does each app's builder, which the tests call directly. A metric
/// made before the bootstrap would count into swift-metrics' no-op backend
/// for good, which is why the builders call it first.
///
/// Every daemon of a process (a test process runs several) counts into the
/// same registry; labels (a queue's prefixed name, a vendor) tell them apart.
public enum ProcessMetrics {
    private static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Every `Timer` is a latency: from half a millisecond (a confirm on loopback) to ten seconds (a timeout).
        factory.defaultDurationHistogramBuckets = latencyBuckets
        // The only aggregating `Recorder`s count messages (a window's size): one to the largest window.
        factory.defaultValueHistogramBuckets = sizeBuckets
        factory.nameAndLabelSanitizer = { name, labels in (conventionalNames[name] ?? name, labels) }
        MetricsSystem.bootstrap(factory)
        return registry
    }()

    /// Latency histograms' bucket bounds.
    public static let latencyBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500),
        .seconds(5), .seconds(10),
    ]

    /// Hummingbird's `MetricsMiddleware` names its metrics after OpenTelemetry's
    /// conventions (dotted, no unit, no `_total`); Prometheus's want the unit and
    /// `_total` in the name, which every other family here has.
    static let conventionalNames: [String: String] = [
        "hb.requests": "http_server_requests_total",
        "hb.request.errors": "http_server_request_errors_total",
        "http.server.request.duration": "http_server_request_duration_seconds",
        "http.server.active_requests": "http_server_active_requests",
    ]

    /// Size histograms' bucket bounds (messages).
    public static let sizeBuckets: [Double] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000]

    /// Makes the registry the process's metrics backend, once; later calls do nothing.
    public static func bootstrap() {
        _ = registry
    }

    /// Every metric in Prometheus's text exposition format (0.0.4), served as ``contentType``.
    public static func exposition() -> [UInt8] {
        registry.emitToBuffer()
    }

    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"
}
