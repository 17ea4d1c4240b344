import Foundation
import StripeAPI
import Testing
import TestSupport

/// The client against the live localstripe (scripts/services runs it on 127.0.0.1:8420).
@Suite(.timeLimit(.minutes(2))) struct StripeClientTests {
    static var apiBase: String {
        ProcessInfo.processInfo.environment["STRIPE_API_BASE"] ?? "http://127.0.0.1:\(ProcessInfo.processInfo.environment["LOCALSTRIPE_PORT"] ?? "8420")"
    }

    let client = StripeClient(configuration: .init(apiBase: StripeClientTests.apiBase, secretKey: "sk_test_local", timeout: .seconds(10)))

    private func intent(_ method: String, amount: Int = 1250) async throws -> StripePaymentIntent {
        let order = UUID().uuidString.lowercased()
        return try await client.createPaymentIntent(amount: amount, currency: "EUR", paymentMethod: method, orderId: order, idempotencyKey: "order-\(order)-authorize-create")
    }

    @Test func aCreatedIntentWaitsForConfirmationWithTheAmountLowerCasedCurrencyAndOrderId() async throws {
        let created = try await intent("pm_card_visa", amount: 2049)
        #expect(created.status == .requiresConfirmation)
        #expect(created.amount == 2049)
        #expect(created.currency == "eur")
        #expect(created.metadata["order_id"]?.count == 36)
        #expect(created.latestCharge == nil)
    }

    @Test func aConfirmedVisaIntentIsAuthorizedAndCapturesInFull() async throws {
        let created = try await intent("pm_card_visa")
        let confirmed = try await client.confirmPaymentIntent(created.id, idempotencyKey: "k-\(created.id)")
        #expect(confirmed.status == .requiresCapture)
        #expect(confirmed.capturedAmount == 0)
        let captured = try await client.capturePaymentIntent(created.id, idempotencyKey: "k-\(created.id)-capture")
        #expect(captured.status == .succeeded)
        #expect(captured.capturedAmount == 1250)
        #expect(try await client.retrievePaymentIntent(created.id).capturedAmount == 1250)
    }

    @Test func aDecliningCardIsDeclinedAndTheIntentSaysWhy() async throws {
        let created = try await intent("pm_card_chargeCustomerFail")
        await #expect(throws: StripeError.declined(code: "card_declined")) {
            try await client.confirmPaymentIntent(created.id, idempotencyKey: "k-\(created.id)")
        }
        let after = try await client.retrievePaymentIntent(created.id)
        #expect(after.status == .requiresPaymentMethod)
        #expect(after.lastPaymentError?.reason == "card_declined")
    }

    /// A cancelled authorization is canceled, and a second cancel is refused (the payment
    /// worker reads the status instead). localstripe would still capture it, unlike
    /// Stripe: the worker never sends a capture without reading `requires_capture` first.
    @Test func aCancelledAuthorizationIsCanceledAndASecondCancelIsRefused() async throws {
        let created = try await intent("pm_card_visa")
        _ = try await client.confirmPaymentIntent(created.id, idempotencyKey: "k-\(created.id)")
        #expect(try await client.cancelPaymentIntent(created.id, idempotencyKey: "k-\(created.id)-void").status == .canceled)
        await #expect(throws: StripeError.rejected(status: 400, code: nil, message: "Bad request")) {
            try await client.cancelPaymentIntent(created.id, idempotencyKey: "k-\(created.id)-void-again")
        }
        #expect(try await client.retrievePaymentIntent(created.id).status == .canceled)
    }

    @Test func refundsCarryTheirIdempotencyKeyAndAreListedPerIntent() async throws {
        let created = try await intent("pm_card_visa", amount: 3000)
        _ = try await client.confirmPaymentIntent(created.id, idempotencyKey: "k-\(created.id)")
        _ = try await client.capturePaymentIntent(created.id, idempotencyKey: "k-\(created.id)-capture")
        #expect(try await client.refunds(ofPaymentIntent: created.id).isEmpty)
        let refund = try await client.createRefund(paymentIntent: created.id, amount: 799, idempotencyKey: "k-\(created.id)-refund-7")
        #expect(refund.amount == 799)
        let listed = try await client.refunds(ofPaymentIntent: created.id)
        #expect(listed.map(\.id) == [refund.id])
        #expect(listed.first?.metadata[StripeRefund.idempotencyMetadataKey] == "k-\(created.id)-refund-7")
        #expect(try await client.retrievePaymentIntent(created.id).latestCharge?.amountRefunded == 799)
    }

    @Test func anUnknownIntentIsRejected() async throws {
        await #expect(throws: StripeError.rejected(status: 404, code: nil, message: "Not Found")) {
            try await client.retrievePaymentIntent("pi_no_such_intent")
        }
    }

    /// Nothing listens on port 1: the call fails fast as unavailable, whatever the transport said.
    @Test func aGatewayThatIsNotListeningIsUnavailable() async throws {
        let away = StripeClient(configuration: .init(apiBase: "http://127.0.0.1:1", secretKey: "sk_test_local", timeout: .milliseconds(500)))
        await #expect {
            try await away.retrievePaymentIntent("pi_x")
        } throws: { error in
            guard case .unavailable = error as? StripeError else { return false }
            return true
        }
    }

    /// The secret key goes in the Authorization header only: no error or description repeats it.
    @Test func noErrorCarriesTheSecretKey() async throws {
        let secret = "sk_test_secret_\(UUID().uuidString.prefix(8))"
        let away = StripeClient(configuration: .init(apiBase: "http://127.0.0.1:1", secretKey: secret, timeout: .milliseconds(500)))
        do {
            _ = try await away.retrievePaymentIntent("pi_x")
            Issue.record("a closed port answered")
        } catch {
            #expect(!"\(error)".contains(secret))
        }
    }
}
