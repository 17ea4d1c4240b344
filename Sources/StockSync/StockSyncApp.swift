import HTTPSupport
import Hummingbird
import Logging
import Postgres
import ServiceLifecycle
import ServiceSupport
import TextCodecs

/// stock-sync's configuration, from the environment.
public struct StockSyncConfiguration: Sendable {
    public var databaseURL: String
    public var vendorDatabaseURLs: [(name: String, url: String)]
    public var interval: Duration
    public var host: String
    public var port: Int
    public var apiToken: String?

    /// Reads `DATABASE_URL`, `VENDOR_DATABASE_URLS`, `STOCK_SYNC_INTERVAL_SECONDS` (30),
    /// `STOCK_SYNC_HTTP_HOST` (127.0.0.1), `STOCK_SYNC_HTTP_PORT` (8081), `STOCK_API_TOKEN` (unset: writes disabled).
    public init(environment: EnvironmentConfiguration = EnvironmentConfiguration()) throws {
        databaseURL = environment.string("DATABASE_URL", default: Defaults.databaseURL)
        vendorDatabaseURLs = try environment.namedURLs("VENDOR_DATABASE_URLS", default: Defaults.vendorDatabaseURLs)
        interval = .seconds(try environment.int("STOCK_SYNC_INTERVAL_SECONDS", default: 30, in: 1...86_400))
        host = environment.string("STOCK_SYNC_HTTP_HOST", default: "127.0.0.1")
        port = try environment.int("STOCK_SYNC_HTTP_PORT", default: 8081, in: 0...65535)
        apiToken = environment.optionalString("STOCK_API_TOKEN")
    }

    public var logMetadata: Logger.Metadata {
        [
            "database_url": "\(URLRedaction.redact(databaseURL))",
            "vendors": "\(vendorDatabaseURLs.map { "\($0.name)=\(URLRedaction.redact($0.url))" }.joined(separator: ","))",
            "interval": "\(interval)", "address": "\(host):\(port)", "writes": "\(apiToken == nil ? "disabled" : "enabled (token set)")",
        ]
    }
}

/// Runs a sync every `interval` until shutdown; a failed run is logged and the next one comes.
struct PeriodicStockSync: Service {
    let runner: StockSyncRunner
    let interval: Duration
    let logger: Logger

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    _ = try await runner.runIfIdle()
                } catch {
                    logger.error("stock sync run failed", metadata: ["error": "\(error)"])
                }
                try await Task.sleep(for: interval)
            }
        }
    }
}

/// Everything stock-sync runs: the periodic sync and the Stock Service HTTP API.
public struct StockSyncApp {
    public let runner: StockSyncRunner
    public let application: any ApplicationProtocol
    /// Every pool it opened: the local database's and each vendor's.
    let pools: [PostgresPool]

    public init(configuration: StockSyncConfiguration, logger: Logger, periodic: Bool = true) throws {
        let local = PostgresPool(configuration: try PostgresConfiguration(url: configuration.databaseURL), size: 2, logger: logger)
        var vendors: [(name: String, configuration: PostgresConfiguration)] = []
        var pools: [String: PostgresPool] = [:]
        for vendor in configuration.vendorDatabaseURLs {
            let config = try PostgresConfiguration(url: vendor.url)
            vendors.append((vendor.name, config))
            pools[vendor.name] = PostgresPool(configuration: config, size: 2, logger: logger)
        }
        self.pools = [local] + Array(pools.values)
        let runner = StockSyncRunner(local: local, vendors: vendors, logger: logger)
        self.runner = runner

        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: ProblemMiddleware())
        StockServiceController(vendors: pools, runner: runner, token: configuration.apiToken).addRoutes(to: router)
        let allPools = self.pools
        var services: [any Service] = [OnShutdown { await Self.shutdown(allPools) }]
        if periodic { services.append(PeriodicStockSync(runner: runner, interval: configuration.interval, logger: logger)) }
        application = Application(
            router: router,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "stock-sync"),
            services: services,
            logger: logger)
    }

    /// Closes every pool (for the one-shot mode, which runs no services).
    public func shutdown() async {
        await Self.shutdown(pools)
    }

    private static func shutdown(_ pools: [PostgresPool]) async {
        for pool in pools { await pool.shutdown() }
    }
}
