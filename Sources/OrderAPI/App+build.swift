import AMQP
import Foundation
import HTTPSupport
import Hummingbird
import Logging
import Messaging
import Postgres
import ServiceLifecycle
import ServiceSupport
import TextCodecs
import Topology

/// order-api's configuration, from the environment.
public struct OrderAPIConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var amqpURL: String
    public var databaseURL: String
    public var databasePoolSize: Int
    public var maxBodyBytes: Int
    public var publishTimeout: Duration
    public var topology: Topology

    /// Reads `HTTP_HOST` (127.0.0.1), `HTTP_PORT` (8080), `AMQP_URL`, `DATABASE_URL`, `DB_POOL_SIZE` (4),
    /// `MAX_BODY_BYTES` (65536), `PUBLISH_TIMEOUT_MS` (1500), `QUEUE_PREFIX` ("").
    public init(environment: EnvironmentConfiguration = EnvironmentConfiguration()) throws {
        host = environment.string("HTTP_HOST", default: "127.0.0.1")
        port = try environment.int("HTTP_PORT", default: 8080, in: 0...65535)
        amqpURL = environment.amqpURL
        databaseURL = environment.databaseURL
        databasePoolSize = try environment.int("DB_POOL_SIZE", default: 4, in: 1...100)
        maxBodyBytes = try environment.int("MAX_BODY_BYTES", default: 64 * 1024, in: 1...(16 << 20))
        publishTimeout = .milliseconds(try environment.int("PUBLISH_TIMEOUT_MS", default: 1500, in: 1...60_000))
        topology = Topology(prefix: environment.queuePrefix)
    }

    public var logMetadata: Logger.Metadata {
        [
            "address": "\(host):\(port)", "amqp_url": "\(URLRedaction.redact(amqpURL))",
            "database_url": "\(URLRedaction.redact(databaseURL))", "db_pool_size": "\(databasePoolSize)",
            "max_body_bytes": "\(maxBodyBytes)", "publish_timeout": "\(publishTimeout)", "queue": "\(topology.orders.main)",
        ]
    }
}

/// The routes order-api serves; the OpenAPI document must list exactly these.
public enum OrderAPIRoutes {
    public static let all: [(method: String, path: String)] = [
        ("POST", "/order"), ("POST", "/orders"), ("GET", "/orders/{id}"),
        ("GET", "/products"), ("GET", "/products/{id}"),
        ("GET", "/health/live"), ("GET", "/health/ready"), ("GET", "/openapi.yaml"),
    ]

    /// The OpenAPI 3.1 document describing them (Sources/OrderAPI/openapi.yaml).
    public static var openAPIDocument: String {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else { return "" }
        return text
    }
}

/// Builds order-api from its configuration (the executable and the tests use the same).
public func buildOrderAPI(configuration: OrderAPIConfiguration, logger: Logger) throws -> some ApplicationProtocol {
    let publisher = ReconnectingPublisher(
        configuration: try AMQPConfiguration(url: configuration.amqpURL, connectionName: "order-api"), logger: logger)
    let database = PostgresPool(configuration: try PostgresConfiguration(url: configuration.databaseURL), size: configuration.databasePoolSize, logger: logger)


    let router = Router(context: BasicRequestContext.self)
    router.add(middleware: ProblemMiddleware())
    OrdersController(
        publisher: publisher, database: database, queue: configuration.topology.orders.main, maxBodyBytes: configuration.maxBodyBytes,
        publishTimeout: configuration.publishTimeout
    ).addRoutes(to: router)
    ProductsController(database: database).addRoutes(to: router)
    HealthController(publisher: publisher, database: database).addRoutes(to: router)
    let document = OrderAPIRoutes.openAPIDocument
    router.get("/openapi.yaml") { _, _ in
        Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(string: document)))
    }

    return Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "order-api"),
        // Stopped in reverse order after the server: the publisher, then the pool.
        services: [database, PublisherConnection(publisher: publisher)],
        logger: logger)
}
