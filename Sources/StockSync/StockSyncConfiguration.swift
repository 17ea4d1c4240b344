import Logging
import OrderCore
import ServiceSupport
import TextCodecs
import Topology

/// stock-sync's configuration, from the environment.
public struct StockSyncConfiguration: Sendable {
    public var databaseURL: String
    public var vendorDatabaseURLs: [(name: String, url: String)]
    public var interval: Duration
    public var host: String
    public var port: Int
    public var apiToken: String?
    /// The `order_events` exchange (with `QUEUE_PREFIX`) a sync's `inventory.*` events are sent to.
    public var eventsExchange: String
    /// When a changed figure announces an `inventory.*` event (`LOW_STOCK_THRESHOLD`).
    public var stockLevels: StockLevelPolicy

    /// Reads `DATABASE_URL`, `VENDOR_DATABASE_URLS`, `STOCK_SYNC_INTERVAL_SECONDS` (30),
    /// `STOCK_SYNC_HTTP_HOST` (127.0.0.1), `STOCK_SYNC_HTTP_PORT` (8081), `STOCK_API_TOKEN` (unset: writes disabled),
    /// `QUEUE_PREFIX` ("").
    public init(environment: EnvironmentConfiguration = EnvironmentConfiguration()) throws {
        databaseURL = environment.databaseURL
        vendorDatabaseURLs = try environment.vendorDatabaseURLs()
        interval = .seconds(try environment.int(.stockSyncIntervalSeconds, default: 30, in: 1...86_400))
        host = environment.string(.stockSyncHTTPHost, default: "127.0.0.1")
        port = try environment.int(.stockSyncHTTPPort, default: 8081, in: 0...65535)
        apiToken = environment.optionalString(.stockAPIToken)
        eventsExchange = Topology(prefix: environment.queuePrefix).orderEvents
        stockLevels = StockLevelPolicy(threshold: try environment.lowStockThreshold())
    }

    public var logMetadata: Logger.Metadata {
        [
            LogKey.databaseURL: "\(URLRedaction.redact(databaseURL))",
            LogKey.vendors: "\(vendorDatabaseURLs.map { "\($0.name)=\(URLRedaction.redact($0.url))" }.joined(separator: ","))",
            "interval": "\(interval)", "address": "\(host):\(port)", "writes": "\(apiToken == nil ? "disabled" : "enabled (token set)")",
        ]
    }
}
