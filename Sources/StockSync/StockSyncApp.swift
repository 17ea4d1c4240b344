import HTTPSupport
import Hummingbird
import Logging
import Postgres
import ServiceLifecycle
import ServiceSupport

/// Everything stock-sync runs: its pools, the periodic sync and the Stock
/// Service HTTP API, or (``oneShotServices``) its pools and a single sync.
public struct StockSyncApp {
    public let runner: StockSyncRunner
    public let application: any ApplicationProtocol
    /// Every pool it opened: the local database's and each vendor's.
    let pools: [PostgresPool]

    public init(configuration: StockSyncConfiguration, logger: Logger, periodic: Bool = true) throws {
        ProcessMetrics.bootstrap()
        // Every URL is parsed before any pool starts its threads, so a bad one leaves none behind.
        let localDatabase = try PostgresConfiguration(url: configuration.databaseURL)
        let vendors = try configuration.vendorDatabaseURLs.map { (name: $0.name, configuration: try PostgresConfiguration(url: $0.url)) }
        let local = PostgresPool(configuration: localDatabase, size: 2, logger: logger)
        var pools: [String: PostgresPool] = [:]
        for vendor in vendors {
            pools[vendor.name] = PostgresPool(configuration: vendor.configuration, size: 2, logger: logger)
        }
        self.pools = [local] + Array(pools.values)
        let runner = StockSyncRunner(
            local: local, vendors: vendors, stockLevels: configuration.stockLevels, eventsExchange: configuration.eventsExchange, logger: logger)
        self.runner = runner

        let router = HTTPRouter(context: BasicRequestContext.self)
        router.add(middleware: ProblemMiddleware())
        StockServiceController(vendors: pools, local: local, runner: runner, token: configuration.apiToken).addRoutes(to: router)
        MetricsController().addRoutes(to: router)
        // Listed first, so they are stopped last: after the server and the periodic sync.
        var services: [any Service] = self.pools
        if periodic { services.append(PeriodicStockSync(runner: runner, interval: configuration.interval, logger: logger)) }
        application = Application(
            router: router,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "stock-sync"),
            services: services,
            logger: logger)
    }

    /// What `stock-sync --once` runs instead of ``application``.
    public var oneShotServices: [any Service] {
        pools + [OneShotStockSync(runner: runner)]
    }

    /// Closes every pool, for a caller that runs no services (tests).
    public func shutdown() async {
        for pool in pools { await pool.shutdown() }
    }
}
