import Foundation
import Logging
import Messaging
import OrderCore
import PaymentWorker
import Postgres
import StripeAPI
import Synchronization
import TestSupport

/// The payment worker's handler wired to the live localstripe and the test
/// ordersdb; each test makes orders of its own (random ids), so their
/// `payment_intents` rows and gateway intents are its alone.
final class PaymentWorkerFixture: TornDown {
    static var apiBase: String {
        let environment = ProcessInfo.processInfo.environment
        return environment["STRIPE_API_BASE"] ?? "http://127.0.0.1:\(environment["LOCALSTRIPE_PORT"] ?? "8420")"
    }

    static let logger: Logger = {
        var logger = Logger(label: "payment-worker-tests")
        logger.logLevel = .critical
        return logger
    }()

    let database: PostgresPool
    let gateway: StripeClient
    let handler: PaymentCommandHandler
    private let orders = SharedOrders()

    /// `breaker` guards the gateway; a closed one with the worker's default policy unless a test brings its own.
    init(breaker: CircuitBreaker = CircuitBreaker(dependency: .paymentGateway, policy: .init(failureThreshold: 5, openDuration: .seconds(10)), logger: logger)) throws {
        database = PostgresPool(configuration: try PostgresConfiguration(url: TestEnvironment.databaseURL), size: 2, logger: Self.logger)
        gateway = StripeClient(configuration: .init(apiBase: Self.apiBase, secretKey: "sk_test_local", timeout: .seconds(5)))
        handler = PaymentCommandHandler(gateway: gateway, intents: PaymentIntentStore(database: database), breaker: breaker, outcomesQueue: "unused")
    }

    /// Runs `body` with a fixture, then removes the `payment_intents` rows of its orders and closes its pool.
    static func with(breaker: CircuitBreaker? = nil, _ body: (PaymentWorkerFixture) async throws -> Void) async throws {
        try await (breaker.map { try PaymentWorkerFixture(breaker: $0) } ?? PaymentWorkerFixture()).use(body)
    }

    func tearDown() async {
        Self.forgetIntents(of: orders.all)
        await database.shutdown()
    }

    /// Removes the `payment_intents` rows of a test's orders.
    static func forgetIntents(of orders: [UUID]) {
        _ = try? TestEnvironment.withOrdersDatabase { connection in
            try connection.query("DELETE FROM payment_intents WHERE order_id = ANY($1::uuid[])", ["{" + orders.map(\.uuidString).joined(separator: ",") + "}"])
        }
    }

    /// A new order id, remembered for the tear-down.
    func order() -> UUID {
        let id = UUID()
        orders.add(id)
        return id
    }

    func authorize(_ order: UUID, method: String = "pm_card_visa", amount: Int = 1250) -> PaymentCommand {
        PaymentCommand(kind: .authorize, orderId: order, amount: Money(minor: amount, currency: "EUR"), method: method)
    }

    func command(_ kind: PaymentCommand.Kind, _ order: UUID, intent: String, step: String? = nil, amount: Int = 1250) -> PaymentCommand {
        PaymentCommand(kind: kind, orderId: order, step: step, amount: Money(minor: amount, currency: "EUR"), intentId: intent)
    }

    /// The command's outcome; a test fails on a command that got none.
    func execute(_ command: PaymentCommand) async throws -> PaymentOutcome {
        try await handler.execute(command, logger: Self.logger).get()
    }

    /// An authorized intent's id, for the steps after authorize.
    func authorized(_ order: UUID, amount: Int = 1250) async throws -> String {
        let outcome = try await execute(authorize(order, amount: amount))
        guard outcome.kind == .authorized, let intent = outcome.intentId else { throw Unexpected(outcome: outcome) }
        return intent
    }

    /// The `payment_intents` rows of an order.
    func recordedIntents(_ order: UUID) async throws -> [String] {
        try await database.withConnection { connection in
            try connection.query("SELECT intent_id FROM payment_intents WHERE order_id = $1", order).rows.map { try $0.decode(0, as: String.self) }
        }
    }

    struct Unexpected: Error {
        let outcome: PaymentOutcome
    }
}

/// Ids collected from concurrent tasks.
final class SharedOrders: Sendable {
    private let ids = Mutex<[UUID]>([])
    func add(_ id: UUID) { ids.withLock { $0.append(id) } }
    var all: [UUID] { ids.withLock { $0 } }
}
