import AMQP
import Foundation
import Instrumentation
import Logging
import Messaging
import OrderCore
import Postgres
import ServiceSupport
import StripeAPI
import TextCodecs

/// Carries out the commands of the `payments` queue against the gateway and
/// answers each with a ``PaymentOutcome`` on `payment_outcomes`, which the
/// order worker turns into the order's transition (it alone writes order
/// state). A window's commands run concurrently; its outcomes are published
/// by the QueueWorker, with confirms, before the window is acked.
///
/// Every call carries an idempotency key derived from the order and the step,
/// and every step first looks at what the gateway already did for it (the
/// recorded intent, its status, its refunds), so a redelivered command
/// answers again without charging, capturing or refunding twice.
///
/// Failures: a decline or a refused call is an outcome, never retried; a
/// gateway that is away, or a breaker that is open (no call is made), is
/// postponed without spending a retry; a server error spends one (and, like
/// an unreachable gateway, counts towards opening the breaker); a body that
/// is not a command is dead-lettered; a database error retries. Only an
/// authorize needs the database (its intent record): when it is away, a
/// window of authorizes alone is held (``DependencyUnavailable``); in a
/// window with other commands, which do not need it, the authorizes are
/// postponed and the others go on.
public struct PaymentCommandHandler: DeliveryHandler {
    public let gateway: StripeClient
    public let intents: PaymentIntentStore
    public let breaker: CircuitBreaker
    /// Where outcomes go (`topology.paymentOutcomes.main`).
    public let outcomesQueue: String

    public init(gateway: StripeClient, intents: PaymentIntentStore, breaker: CircuitBreaker, outcomesQueue: String) {
        self.gateway = gateway
        self.intents = intents
        self.breaker = breaker
        self.outcomesQueue = outcomesQueue
    }

    public func handleBatch(_ deliveries: [AMQPDelivery], logger: Logger) async throws -> HandledWindow {
        var outcomes = [DeliveryOutcome](repeating: .done, count: deliveries.count)
        var answers: [(index: Int, outcome: PaymentOutcome)] = []
        // One order's commands run one after another, in delivery order (a capture and
        // a void of the same intent side by side could both see it authorized); the
        // orders run concurrently.
        var byOrder: [UUID: [(index: Int, command: PaymentCommand)]] = [:]
        var orderOfArrival: [UUID] = []
        var databaseAway: String?
        for (index, delivery) in deliveries.enumerated() {
            do throws(PoisonMessage) {
                let command = try PaymentCommand.decode(delivery.body)
                if byOrder[command.orderId] == nil { orderOfArrival.append(command.orderId) }
                byOrder[command.orderId, default: []].append((index, command))
            } catch {
                outcomes[index] = .deadLetter(reason: error.reason.rawValue, message: error.detail)
            }
        }
        await withTaskGroup(of: [(Int, Result<PaymentOutcome, Failure>)].self) { group in
            for orderId in orderOfArrival {
                let commands = byOrder[orderId]!.map { ($0.index, $0.command, deliveries[$0.index].trace) }
                group.addTask {
                    var results: [(Int, Result<PaymentOutcome, Failure>)] = []
                    for (index, command, trace) in commands {
                        results.append((index, await ServiceContext.withValue(.tracing(trace)) { await execute(command, logger: logger) }))
                    }
                    return results
                }
            }
            for await results in group {
                for (index, result) in results {
                    switch result {
                    case .success(let outcome): answers.append((index, outcome))
                    case .failure(let failure):
                        outcomes[index] = failure.deliveryOutcome
                        if case .databaseUnavailable(let detail) = failure { databaseAway = detail }
                    }
                }
            }
        }
        if let databaseAway, byOrder.values.joined().allSatisfy({ $0.command.kind == .authorize }) {
            throw DependencyUnavailable.ordersDatabase(databaseAway)
        }
        let now = Date()
        let messages = answers.sorted { $0.index < $1.index }.map { answer in
            var message = AMQPOutgoingMessage(answer.outcome.outboundMessage(queue: outcomesQueue), timestamp: now)
            message.properties.propagate(deliveries[answer.index].trace)
            return message
        }
        return HandledWindow(outcomes: outcomes, messages: messages)
    }

    /// One command, start to answer: its outcome, or why it has none yet. Logged with its
    /// order id (the correlation id), step, result and duration.
    public func execute(_ command: PaymentCommand, logger: Logger) async -> Result<PaymentOutcome, Failure> {
        var logger = logger
        logger[metadataKey: LogKey.orderId] = .string(UUIDText.string(command.orderId))
        logger[metadataKey: LogKey.step] = "\(command.step)"
        let call = Call(command: command, gateway: gateway, breaker: breaker, logger: logger)
        let start = ContinuousClock.now
        let result: Result<PaymentOutcome, Failure>
        do throws(Failure) {
            switch command.kind {
            case .authorize: result = .success(try await authorize(call))
            case .capture: result = .success(try await capture(call))
            case .void: result = .success(try await void(call))
            case .refund: result = .success(try await refund(call, amount: command.amount.minor, key: command.idempotencyKey))
            }
        } catch .gateway(.rejected(let status, let code, _)) {
            // Refused for good (an unknown intent, a call its state does not allow): the same call would be refused again.
            result = .success(call.outcome(.failed, intent: command.intentId, declineCode: code ?? "gateway-refused-\(status)"))
        } catch .gateway(.declined(let code)) {
            result = .success(call.outcome(command.kind == .authorize ? .declined : .failed, intent: command.intentId, declineCode: code))
        } catch {
            result = .failure(error)
        }
        let elapsed = "\((ContinuousClock.now - start).milliseconds)"
        switch result {
        case .success(let outcome):
            var metadata: Logger.Metadata = [LogKey.result: "\(outcome.kind.rawValue)", LogKey.durationMilliseconds: "\(elapsed)"]
            if let intent = outcome.intentId { metadata[LogKey.intentId] = "\(intent)" }
            if let amount = outcome.amount { metadata[LogKey.amount] = "\(amount)" }
            if let code = outcome.declineCode { metadata[LogKey.reason] = "\(code)" }
            logger.info("payment command answered", metadata: metadata)
        case .failure(let failure):
            logger.warning(
                "payment command not answered", metadata: [LogKey.reason: "\(failure.reason)", LogKey.error: "\(failure)", LogKey.durationMilliseconds: "\(elapsed)"])
        }
        return result
    }

    // MARK: Steps

    /// Creates the order's intent once (recorded before it is confirmed), confirms it, and reports its status.
    private func authorize(_ call: Call) async throws(Failure) -> PaymentOutcome {
        let command = call.command
        var intent: StripePaymentIntent
        if let stored = try await database({ try await intents.intentId(for: command.orderId) }) {
            intent = try await call("retrieve") { try await $0.retrievePaymentIntent(stored) }
        } else {
            let created = try await call("create") {
                try await $0.createPaymentIntent(
                    amount: command.amount.minor, currency: command.amount.currency, paymentMethod: command.method ?? "",
                    orderId: UUIDText.string(command.orderId), idempotencyKey: command.idempotencyKey + "-create")
            }
            let standing = try await database({ try await intents.record(created.id, for: command.orderId) })
            if standing == created.id {
                intent = created
            } else {
                // Another delivery of this command recorded its intent first. Ours was never
                // confirmed and holds nothing; cancelling it only keeps the gateway tidy.
                _ = try? await call("cancel-duplicate") { try await $0.cancelPaymentIntent(created.id, idempotencyKey: command.idempotencyKey + "-duplicate") }
                intent = try await call("retrieve") { try await $0.retrievePaymentIntent(standing) }
            }
        }
        if intent.status == .requiresConfirmation {
            do throws(Failure) {
                intent = try await call("confirm") { try await $0.confirmPaymentIntent(intent.id, idempotencyKey: command.idempotencyKey) }
            } catch .gateway(.declined(let code)) {
                return call.outcome(.declined, intent: intent.id, declineCode: code)
            } catch .gateway(.rejected) {
                // A concurrent delivery confirmed it between our read and our confirm: its status tells.
                let current = intent.id
                intent = try await call("retrieve") { try await $0.retrievePaymentIntent(current) }
            }
        }
        switch intent.status {
        case .requiresCapture: return call.outcome(.authorized, intent: intent.id, amount: intent.amount)
        case .requiresAction: return call.outcome(.actionRequired, intent: intent.id)
        case .requiresPaymentMethod:
            return call.outcome(.declined, intent: intent.id, declineCode: intent.lastPaymentError?.reason ?? "payment_method_missing")
        case .succeeded: return call.outcome(.captured, intent: intent.id, amount: intent.capturedAmount)
        case .canceled: return call.outcome(.failed, intent: intent.id, declineCode: "intent-canceled")
        case .processing, .requiresConfirmation: throw .notSettled("intent \(intent.status.rawValue)")
        }
    }

    /// Captures the authorization in full; an intent captured already answers as captured.
    /// The status is read first: only `requires_capture` is captured (localstripe, unlike
    /// Stripe, would capture a cancelled intent's charge).
    private func capture(_ call: Call) async throws(Failure) -> PaymentOutcome {
        let command = call.command
        let id = command.intentId ?? ""
        var intent = try await call("retrieve") { try await $0.retrievePaymentIntent(id) }
        if intent.status == .requiresCapture {
            do throws(Failure) {
                intent = try await call("capture") { try await $0.capturePaymentIntent(id, idempotencyKey: command.idempotencyKey) }
            } catch .gateway(.rejected(let status, let code, _)) {
                // Captured (or cancelled) meanwhile by another delivery: its status tells.
                intent = try await call("retrieve") { try await $0.retrievePaymentIntent(id) }
                if intent.status == .requiresCapture { return call.outcome(.failed, intent: id, declineCode: code ?? "capture-refused-\(status)") }
            }
        }
        switch intent.status {
        case .succeeded: return call.outcome(.captured, intent: id, amount: intent.capturedAmount)
        case .canceled: return call.outcome(.failed, intent: id, declineCode: "intent-canceled")
        case .processing: throw .notSettled("intent processing")
        case .requiresCapture, .requiresAction, .requiresConfirmation, .requiresPaymentMethod:
            return call.outcome(.failed, intent: id, declineCode: "intent-not-authorized")
        }
    }

    /// Cancels the authorization. One that was captured meanwhile (a cancel of a
    /// PAID order raced its capture) is not refunded here: it answers `captured`,
    /// a fact the order worker takes as a late capture and refunds through its own
    /// refund step, once, whichever of this answer and the capture's comes first.
    private func void(_ call: Call) async throws(Failure) -> PaymentOutcome {
        let command = call.command
        let id = command.intentId ?? ""
        var intent = try await call("retrieve") { try await $0.retrievePaymentIntent(id) }
        if Self.cancellable.contains(intent.status) {
            do throws(Failure) {
                intent = try await call("cancel") { try await $0.cancelPaymentIntent(id, idempotencyKey: command.idempotencyKey) }
            } catch .gateway(.rejected) {
                // Captured or cancelled meanwhile: its status says what is left to give back.
                intent = try await call("retrieve") { try await $0.retrievePaymentIntent(id) }
            }
        }
        switch intent.status {
        case .canceled:
            return call.outcome(.voided, intent: id, amount: intent.amount)
        case .succeeded:
            return call.outcome(.captured, intent: id, amount: intent.capturedAmount)
        case .processing, .requiresCapture, .requiresAction, .requiresConfirmation, .requiresPaymentMethod:
            throw .notSettled("intent \(intent.status.rawValue) after cancel")
        }
    }

    /// Refunds `amount` once per `key`: the refund the gateway already holds
    /// under that key answers a redelivery (localstripe ignores `Idempotency-Key`).
    private func refund(_ call: Call, amount: Int, key: String) async throws(Failure) -> PaymentOutcome {
        let id = call.command.intentId ?? ""
        let existing = try await call("list-refunds") { try await $0.refunds(ofPaymentIntent: id) }
        if let done = existing.first(where: { $0.metadata[StripeRefund.idempotencyMetadataKey] == key }) {
            return call.outcome(.refunded, intent: id, amount: done.amount, refundId: done.id)
        }
        do throws(Failure) {
            let refund = try await call("refund") { try await $0.createRefund(paymentIntent: id, amount: amount, idempotencyKey: key) }
            return call.outcome(.refunded, intent: id, amount: refund.amount, refundId: refund.id)
        } catch .gateway(.rejected(let status, let code, _)) {
            return call.outcome(.failed, intent: id, declineCode: code ?? "refund-refused-\(status)")
        }
    }

    /// The states in which an intent can be cancelled (nothing captured).
    private static let cancellable: Set<StripePaymentIntent.Status> = [.requiresCapture, .requiresAction, .requiresConfirmation, .requiresPaymentMethod]

    private func database<T>(_ body: () async throws -> T) async throws(Failure) -> T {
        do {
            return try await body()
        } catch let error as PostgresError where error.isUnavailable {
            throw .databaseUnavailable(error.reason)
        } catch {
            throw .database("\(error)")
        }
    }
}

extension PaymentCommandHandler {
    /// Why a command got no answer this time, and so what its delivery becomes.
    public enum Failure: Error, CustomStringConvertible {
        /// The breaker refused the call; none was made.
        case breakerOpen
        case gateway(StripeError)
        case database(String)
        /// The database is away (`PostgresError.isUnavailable`).
        case databaseUnavailable(String)
        /// The intent is between states (processing): ask again later.
        case notSettled(String)

        public var reason: String {
            switch self {
            case .breakerOpen: "breaker-open"
            case .gateway(.unavailable): "gateway-unavailable"
            case .gateway(.serverError): "gateway-server-error"
            case .gateway(.declined), .gateway(.rejected): "gateway-refused"
            case .database: "database-error"
            case .databaseUnavailable: "database-unavailable"
            case .notSettled: "intent-not-settled"
            }
        }

        public var description: String {
            switch self {
            case .breakerOpen: "the gateway's circuit breaker is open"
            case .gateway(let error): "\(error)"
            case .database(let message), .databaseUnavailable(let message): message
            case .notSettled(let message): message
            }
        }

        /// What becomes of the delivery: postponed while the gateway or the database is away or the
        /// intent is between states (no retry spent), retried after a server or database error.
        public var deliveryOutcome: DeliveryOutcome {
            switch self {
            case .breakerOpen, .gateway(.unavailable), .databaseUnavailable, .notSettled: .postpone(reason: reason, message: description)
            case .gateway, .database: .retry(reason: reason, message: description)
            }
        }
    }

    /// One command's calls: each through the breaker, timed and logged; and its outcomes.
    struct Call {
        let command: PaymentCommand
        let gateway: StripeClient
        let breaker: CircuitBreaker
        let logger: Logger

        /// Makes one gateway call unless the breaker refuses it, and tells the
        /// breaker how it went: away or failing counts against the gateway, any
        /// answer (a decline, a refusal) for it.
        func callAsFunction<T>(_ name: String, _ body: (StripeClient) async throws -> T) async throws(Failure) -> T {
            guard breaker.admit() != .refused else { throw .breakerOpen }
            let start = ContinuousClock.now
            do {
                let value = try await body(gateway)
                breaker.recordSuccess()
                logger.info("gateway call", metadata: [LogKey.call: "\(name)", LogKey.status: "ok", LogKey.durationMilliseconds: "\((ContinuousClock.now - start).milliseconds)"])
                return value
            } catch {
                // StripeClient throws nothing else; a cancelled call (shutdown) is an answer not received.
                let error = error as? StripeError ?? .unavailable(detail: "\(error)")
                switch error {
                case .unavailable, .serverError: breaker.recordFailure()
                case .declined, .rejected: breaker.recordSuccess()
                }
                logger.info(
                    "gateway call failed",
                    metadata: [LogKey.call: "\(name)", LogKey.error: "\(error)", LogKey.durationMilliseconds: "\((ContinuousClock.now - start).milliseconds)"])
                throw .gateway(error)
            }
        }

        func outcome(_ kind: PaymentOutcome.Kind, intent: String?, amount: Int? = nil, declineCode: String? = nil, refundId: String? = nil) -> PaymentOutcome {
            PaymentOutcome(
                kind: kind, orderId: command.orderId, step: command.step, intentId: intent,
                amount: amount.map { Money(minor: $0, currency: command.amount.currency) }, declineCode: declineCode, refundId: refundId)
        }
    }
}

extension LogKey {
    /// The payment worker's calls.
    static let step = "step", call = "call", intentId = "intent_id", amount = "amount"
}
