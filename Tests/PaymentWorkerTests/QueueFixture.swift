import AMQP
import Foundation
import Logging
import Messaging
import OrderCore
import PaymentWorker
import ServiceLifecycle
import ServiceSupport
import TestSupport
import Topology

/// Queues of a unique prefix, the worker run against them, and the clean-up.
final class QueueFixture: TornDown {
    let prefix = TestEnvironment.uniqueName("pay") + "."
    let topology: Topology
    let broker: AMQPConnection
    /// The test's orders: the tear-down removes their `payment_intents` rows.
    let orders: [UUID]

    init(retryDelayMilliseconds: Int, orders: [UUID]) async throws {
        self.orders = orders
        topology = Topology(prefix: prefix, retryDelayMilliseconds: retryDelayMilliseconds)
        broker = try await AMQPConnection.connect(url: TestEnvironment.amqpURL, connectionName: "payment-worker-tests")
        try await topology.declare(on: broker)
    }

    static func with(retryDelayMilliseconds: Int, orders: [UUID], _ body: (QueueFixture) async throws -> Void) async throws {
        try await QueueFixture(retryDelayMilliseconds: retryDelayMilliseconds, orders: orders).use(body)
    }

    func tearDown() async {
        await topology.delete(on: broker)
        await broker.close()
        PaymentWorkerFixture.forgetIntents(of: orders)
    }

    func publish(_ commands: [PaymentCommand], retryCount: Int? = nil) async throws {
        let channel = try await broker.openConfirmChannel()
        for command in commands {
            let message = command.outboundMessage(queue: topology.payments.main)
            var properties = AMQPOutgoingMessage(message, timestamp: Date()).properties
            if let retryCount { properties.headers[FailureHeaders.Name.retryCount] = .int32(Int32(retryCount)) }
            try await channel.publish(message.body, routingKey: message.routingKey, mandatory: true, properties: properties)
        }
        await channel.close()
    }

    func publishRaw(_ body: [UInt8], messageID: String) async throws {
        let channel = try await broker.openConfirmChannel()
        try await channel.publish(
            body, routingKey: topology.payments.main, mandatory: true,
            properties: AMQPProperties(contentType: "application/json", deliveryMode: .persistent, messageID: messageID, type: PaymentCommand.messageType))
        await channel.close()
    }

    func recordedIntents() throws -> [String] {
        let ids = "{" + orders.map(\.uuidString).joined(separator: ",") + "}"
        return try TestEnvironment.withOrdersDatabase { connection in
            try connection.query("SELECT intent_id FROM payment_intents WHERE order_id = ANY($1::uuid[])", [ids]).rows.map { try $0.decode(0, as: String.self) }
        }
    }

    /// Runs payment-worker (in-process, configured from `overrides` over the test's environment) while `body` runs, then stops it gracefully.
    func running(_ overrides: [String: String], _ body: (PaymentWorkerApp) async throws -> Void) async throws {
        let environment = [
            "AMQP_URL": TestEnvironment.amqpURL, "DATABASE_URL": TestEnvironment.databaseURL, "QUEUE_PREFIX": prefix,
            "RETRY_DELAY_MS": "\(topology.retryDelayMilliseconds)", "STRIPE_API_BASE": PaymentWorkerFixture.apiBase,
        ].merging(overrides) { $1 }
        let app = try PaymentWorkerApp(configuration: try PaymentWorkerConfiguration(environment: EnvironmentConfiguration(environment)), logger: PaymentWorkerFixture.logger)
        try await FixtureLifetime.running(app.services, logger: PaymentWorkerFixture.logger) { try await body(app) }
    }
}
