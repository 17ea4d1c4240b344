import Admin
import HTTPSupport
import Hummingbird
import Logging
import Postgres
import ServiceSupport

/// Builds order-console from its configuration (the executable and the tests use the same).
public func buildConsole(configuration: ConsoleConfiguration, logger: Logger) throws -> some ApplicationProtocol {
    ProcessMetrics.bootstrap()
    let database = PostgresPool(configuration: try PostgresConfiguration(url: configuration.databaseURL), size: 2, logger: logger)
    let access = ConsoleAccess(sessions: configuration.token.map { ConsoleSessions(token: $0) }, database: database, logger: logger)
    let deadLetters = DeadLetterAdmin(amqpURL: configuration.amqpURL, topology: configuration.topology)

    let router = HTTPRouter(context: ConsoleRequestContext.self)
    router.add(middleware: ConsoleErrorMiddleware(access: access))
    OverviewController(queues: QueueOverview(managementURL: configuration.managementURL, topology: configuration.topology), access: access)
        .addRoutes(to: router)
    DeadLetterController(admin: deadLetters, access: access).addRoutes(to: router)
    OrderTimelineController(admin: deadLetters, access: access).addRoutes(to: router)
    SignInController(access: access).addRoutes(to: router)
    router.get("/health/live") { _, _ in "ok" }
    MetricsController().addRoutes(to: router)

    return Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "order-console"),
        services: [database],
        logger: logger)
}
