import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import OrderAPI
import ServiceSupport
import TestSupport
import Testing

private let quietLogger: Logger = {
    var logger = Logger(label: "test-readiness")
    logger.logLevel = .critical
    return logger
}()

/// `/health/ready` says which dependency is down and why, without the secret it was given.
@Suite(.timeLimit(.minutes(2))) struct ReadinessTests {
    private func readiness(amqpURL: String = TestEnvironment.amqpURL, databaseURL: String = TestEnvironment.databaseURL) async throws -> HTTPResult {
        let configuration = try OrderAPIConfiguration(environment: EnvironmentConfiguration([
            "AMQP_URL": amqpURL, "DATABASE_URL": databaseURL, "QUEUE_PREFIX": TestEnvironment.uniqueName("readiness") + ".",
            "ORDER_ID_SECRET": TestEnvironment.orderIdSecret,
        ]))
        let app = try buildOrderAPI(configuration: configuration, logger: quietLogger)
        return try await app.test(.router) { client in try await client.call(.get, "/health/ready") }
    }

    private func replacing(in url: String, _ change: (inout URLComponents) -> Void) throws -> String {
        var components = try #require(URLComponents(string: url))
        change(&components)
        return try #require(components.string)
    }

    @Test func aWrongDatabasePasswordIsNamedAsTheCause() async throws {
        let secret = "Wrong-Db-Secret-3e9a"
        let url = try replacing(in: TestEnvironment.databaseURL) { $0.password = secret }
        let user = try #require(URLComponents(string: url)?.user)
        let ready = try await readiness(databaseURL: url)
        #expect(ready.status == 503)
        #expect(ready.json["status"] as? String == "unavailable")
        #expect(ready.json["database"] as? String == "down")
        #expect(ready.json["databaseError"] as? String == "password authentication failed for user \"\(user)\"", "\(ready.text)")
        #expect(ready.json["broker"] as? String == "up", "\(ready.text)")
        #expect(ready.json["brokerError"] == nil, "no cause for what is up: \(ready.text)")
        #expect(!ready.text.contains(secret))
    }

    @Test func anUnknownDatabaseAndARefusedConnectionAreNamedToo() async throws {
        let name = TestEnvironment.uniqueIdentifier("no_such_db")
        let unknown = try await readiness(databaseURL: try replacing(in: TestEnvironment.databaseURL) { $0.path = "/\(name)" })
        #expect(unknown.json["databaseError"] as? String == "database \"\(name)\" does not exist", "\(unknown.text)")
        let refused = try await readiness(databaseURL: try replacing(in: TestEnvironment.databaseURL) { $0.port = 1 })
        #expect(refused.status == 503)
        #expect(refused.json["databaseError"] as? String == "Connection refused", "\(refused.text)")
        #expect(!refused.text.contains("127.0.0.1"), "the reason, not where: \(refused.text)")
    }

    @Test func aRefusedBrokerLoginSaysWhoWasRefusedAndWhy() async throws {
        let secret = "Wrong-Amqp-Secret-5c2d"
        let url = try replacing(in: TestEnvironment.amqpURL) { $0.password = secret }
        let user = try #require(URLComponents(string: url)?.user)
        let ready = try await readiness(amqpURL: url)
        #expect(ready.status == 503)
        #expect(ready.json["broker"] as? String == "down")
        let cause = try #require(ready.json["brokerError"] as? String, "\(ready.text)")
        #expect(cause.contains("403 ACCESS_REFUSED"), "\(cause)")
        #expect(cause.contains("login as '\(user)'") && cause.contains("the user name or password is wrong"), "\(cause)")
        #expect(ready.json["database"] as? String == "up", "\(ready.text)")
        #expect(ready.json["databaseError"] == nil)
        #expect(!ready.text.contains(secret))
    }
}
