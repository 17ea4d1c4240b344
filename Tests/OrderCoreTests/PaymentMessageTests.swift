import Foundation
@testable import OrderCore
import Testing

/// The messages between the order worker and the payment worker: what is
/// encoded decodes to the same value, and a wrong body is poison that names
/// every wrong field.
@Suite struct PaymentMessageTests {
    static let orderId = UUID(uuidString: "6f1c2b8e-3d4a-4e5f-9a7b-0c1d2e3f4a5b")!
    static let id = "6f1c2b8e-3d4a-4e5f-9a7b-0c1d2e3f4a5b"

    static let commands = [
        PaymentCommand(kind: .authorize, orderId: orderId, amount: Money(minor: 2499, currency: "EUR"), method: "pm_card_visa"),
        PaymentCommand(kind: .capture, orderId: orderId, amount: Money(minor: 2499, currency: "EUR"), intentId: "pi_123"),
        PaymentCommand(kind: .void, orderId: UUID(), amount: Money(minor: 1, currency: "USD"), intentId: "pi_x"),
        PaymentCommand(kind: .refund, orderId: UUID(), step: "refund-7", amount: Money(minor: 799, currency: "EUR"), intentId: "pi_y"),
    ]

    @Test(arguments: commands)
    func aCommandRoundTrips(command: PaymentCommand) throws {
        #expect(try PaymentCommand.decode(command.encoded()) == command)
        let message = command.outboundMessage(queue: "q.payments")
        #expect(message.routingKey == "q.payments" && message.exchange == "")
        #expect(message.messageId == command.idempotencyKey)
        #expect(message.type == PaymentCommand.messageType)
        #expect(message.correlationId == command.orderId.uuidString.lowercased())
        #expect(try PaymentCommand.decode(message.body) == command)
    }

    @Test func theIdempotencyKeyNamesTheOrderAndTheStep() {
        #expect(Self.commands[0].idempotencyKey == "order-\(Self.id)-authorize")
        #expect(Self.commands[1].idempotencyKey == "order-\(Self.id)-capture")
        #expect(Self.commands[3].step == "refund-7")
        #expect(Self.commands[3].idempotencyKey.hasSuffix("-refund-7"))
    }

    @Test(arguments: [
        ("[]", "body must be a JSON object, not array"),
        ("{}", "kind: is required; orderId: is required; step: is required; amount: must be an object with minor and currency"),
        (#"{"kind":"charge","orderId":"\#(id)","step":"x","amount":{"minor":1,"currency":"EUR"}}"#,
         #"kind: must be one of authorize, capture, void, refund, not "charge""#),
        (#"{"kind":"capture","orderId":"nope","step":"capture","amount":{"minor":1,"currency":"EUR"}}"#,
         "orderId: not a UUID; intentId: is required to capture"),
        (#"{"kind":"refund","orderId":"\#(id)","step":7,"amount":{"minor":-1,"currency":"EUR"},"intentId":"pi"}"#,
         "step: must be a string, not number; amount.minor: must be an integer of at least 0"),
        (#"{"kind":"void","orderId":"\#(id)","step":"void","amount":{"minor":1,"currency":"eur"},"intentId":5}"#,
         "amount.currency: must be an ISO 4217 code such as EUR; intentId: must be a string, not number; intentId: is required to void"),
        (#"{"kind":"authorize","orderId":"\#(id)","step":"authorize","amount":{"minor":1,"currency":"EUR"},"method":null}"#,
         "method: is required to authorize"),
    ])
    func aWrongCommandNamesEveryWrongField(body: String, detail: String) {
        #expect(throws: PoisonMessage(reason: .invalid, detail: detail)) { try PaymentCommand.decode(Array(body.utf8)) }
    }

    static let outcomes = [
        PaymentOutcome(kind: .authorized, orderId: orderId, step: "authorize", intentId: "pi_1", amount: Money(minor: 2499, currency: "EUR")),
        PaymentOutcome(kind: .actionRequired, orderId: orderId, step: "authorize", intentId: "pi_1"),
        PaymentOutcome(kind: .declined, orderId: UUID(), step: "authorize", intentId: nil, declineCode: "card_declined"),
        PaymentOutcome(kind: .captured, orderId: UUID(), step: "capture", intentId: "pi_2", amount: Money(minor: 10, currency: "USD")),
        PaymentOutcome(kind: .voided, orderId: UUID(), step: "void", intentId: "pi_3"),
        PaymentOutcome(kind: .refunded, orderId: UUID(), step: "refund-4", intentId: "pi_4", amount: Money(minor: 799, currency: "EUR"), refundId: "re_1"),
        PaymentOutcome(kind: .failed, orderId: UUID(), step: "void", intentId: "pi_5", declineCode: "payment_intent_unexpected_state"),
    ]

    @Test(arguments: outcomes)
    func anOutcomeRoundTrips(outcome: PaymentOutcome) throws {
        #expect(try PaymentOutcome.decode(outcome.encoded()) == outcome)
        let message = outcome.outboundMessage(queue: "q.payment_outcomes")
        #expect(message.messageId == "order-\(outcome.orderId.uuidString.lowercased())-\(outcome.step)-\(outcome.kind.rawValue)")
        #expect(message.type == PaymentOutcome.messageType)
        #expect(outcome.outboundMessage(queue: "q", messageId: "evt_1").messageId == "evt_1")
        #expect(try PaymentOutcome.decode(message.body) == outcome)
    }

    @Test(arguments: [
        ("\"x\"", "body must be a JSON object, not string"),
        ("{}", "kind: is required; orderId: is required; step: is required"),
        (#"{"kind":"authorized","orderId":"\#(id)","step":"authorize"}"#, "amount: is required when authorized"),
        (#"{"kind":"captured","orderId":"\#(id)","step":"capture","amount":5}"#, "amount: must be an object with minor and currency; amount: is required when captured"),
        (#"{"kind":"declined","orderId":"\#(id)","step":"authorize"}"#, "declineCode: is required when declined"),
        (#"{"kind":"failed","orderId":"\#(id)","step":"void","declineCode":false,"intentId":[]}"#,
         "intentId: must be a string, not array; declineCode: must be a string, not boolean; declineCode: is required when failed"),
        (#"{"kind":"settled","orderId":"\#(id)","step":"s"}"#,
         #"kind: must be one of authorized, action-required, declined, captured, voided, refunded, failed, not "settled""#),
    ])
    func aWrongOutcomeNamesEveryWrongField(body: String, detail: String) {
        #expect(throws: PoisonMessage(reason: .invalid, detail: detail)) { try PaymentOutcome.decode(Array(body.utf8)) }
    }

    @Test func notJSONIsUndecodable() {
        #expect(throws: PoisonMessage(reason: .undecodable, detail: "body is not JSON")) { try PaymentCommand.decode(Array("{".utf8)) }
        #expect(throws: PoisonMessage(reason: .undecodable, detail: "body is not JSON")) { try PaymentOutcome.decode([]) }
    }
}
