import Foundation
import OrderCore
import Postgres
import TextCodecs

/// The order worker's side of an order's payment (table `payments`,
/// DESIGN.md "Payments"): the amount computed from product prices when the
/// stock is held, and the commands to the payment worker that a transition's
/// effects ask for, written in the transaction of that transition. Every
/// writer of a transition (the worker's window, a payment outcome, a cancel,
/// a return, the sweeper) goes through `commands(for:of:refundMinor:on:)`, so
/// a transition's payment effects are carried out the same way wherever it
/// happens. An order without a payment has no row and gets no command.
enum Payments {
    /// What an order's lines cost, or why they cannot be paid for (its REJECTED reason).
    enum Pricing: Hashable {
        case amount(Money)
        case refused(String)
    }

    /// The price of each priced product among `products` (an unpriced one is absent).
    /// Read without a lock: the amount is what the products cost when the order was reserved.
    static func prices(of products: [String], on connection: PostgresConnection) throws -> [String: Money] {
        guard !products.isEmpty else { return [:] }
        var prices: [String: Money] = [:]
        for row in try connection.query(
            "SELECT id, price_minor, currency FROM products WHERE id = ANY($1::text[]) AND price_minor IS NOT NULL",
            [PostgresArray(products)]
        ).rows {
            prices[try row.decode(0)] = Money(minor: try row.decode(1), currency: try row.decode(2))
        }
        return prices
    }

    /// The lines' amount in their one currency. Refused, naming the products
    /// or currencies: a product without a price (`product-unpriced: p9`),
    /// lines of several currencies (`mixed-currency: EUR, USD`), nothing to charge.
    static func price(_ lines: [OrderLine], prices: [String: Money]) -> Pricing {
        let unpriced = Set(lines.map(\.productId).filter { prices[$0] == nil }).sorted()
        guard unpriced.isEmpty else { return .refused("product-unpriced: \(unpriced.joined(separator: ", "))") }
        let currencies = Set(lines.compactMap { prices[$0.productId]?.currency }).sorted()
        guard currencies.count == 1 else { return .refused("mixed-currency: \(currencies.joined(separator: ", "))") }
        // Checked arithmetic: a price set far beyond any card's limit must refuse the
        // order, not trap the worker on every redelivery.
        var minor = 0
        for line in lines {
            let (cost, overflowed) = prices[line.productId]!.minor.multipliedReportingOverflow(by: line.quantity)
            let (sum, tooMuch) = minor.addingReportingOverflow(cost)
            guard !overflowed, !tooMuch, sum <= Money.maximumMinor else {
                return .refused("payment-amount-too-large: more than \(Money.maximumMinor) minor units")
            }
            minor = sum
        }
        guard minor > 0 else { return .refused("payment-amount-zero: the products cost nothing") }
        return .amount(Money(minor: minor, currency: currencies[0]))
    }

    /// For orders whose stock the window just held: each line's unit price,
    /// the order's `payments` row (PENDING), and the authorize command to
    /// publish with the window's messages.
    static func authorize(
        _ orders: [(order: OrderPlaced, amount: Money)], prices: [String: Money], on connection: PostgresConnection
    ) throws -> [UUID: PaymentCommand] {
        guard !orders.isEmpty else { return [:] }
        let lines = orders.flatMap { entry in
            entry.order.lines.enumerated().map { (entry.order.orderId, $0.offset + 1, prices[$0.element.productId]!.minor) }
        }
        try connection.query(
            """
            UPDATE order_lines AS l SET unit_price_minor = d.price
            FROM unnest($1::uuid[], $2::int[], $3::bigint[]) AS d(order_id, line_no, price)
            WHERE l.order_id = d.order_id AND l.line_no = d.line_no
            """, [PostgresArray(lines.map(\.0)), PostgresArray(lines.map(\.1)), PostgresArray(lines.map(\.2))])
        try connection.query(
            """
            INSERT INTO payments (order_id, method, amount_minor, currency, status)
            SELECT d.*, 'PENDING' FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::text[]) AS d
            """,
            [
                PostgresArray(orders.map(\.order.orderId)), PostgresArray(orders.map { $0.order.payment!.method }),
                PostgresArray(orders.map(\.amount.minor)), PostgresArray(orders.map(\.amount.currency)),
            ])
        return Dictionary(uniqueKeysWithValues: orders.map { entry in
            (entry.order.orderId, authorizeCommand(entry.order.orderId, method: entry.order.payment!.method, amount: entry.amount))
        })
    }

    /// The authorize commands of orders still RESERVED with their payment
    /// PENDING: a copy of such an order's message sends its authorize again
    /// (same idempotency key), so a crash between the commit and the publish
    /// strands no payment.
    static func pendingAuthorizations(of orderIds: [UUID], on connection: PostgresConnection) throws -> [UUID: PaymentCommand] {
        guard !orderIds.isEmpty else { return [:] }
        var commands: [UUID: PaymentCommand] = [:]
        for row in try connection.query(
            """
            SELECT p.order_id, p.method, p.amount_minor, p.currency FROM payments p JOIN orders o ON o.id = p.order_id
            WHERE p.order_id = ANY($1::uuid[]) AND p.status = 'PENDING' AND o.status = $2
            """, [PostgresArray(orderIds), OrderState.reserved.rawValue]
        ).rows {
            let orderId: UUID = try row.decode(0)
            commands[orderId] = authorizeCommand(orderId, method: try row.decode(1), amount: Money(minor: try row.decode(2), currency: try row.decode(3)))
        }
        return commands
    }

    private static func authorizeCommand(_ orderId: UUID, method: String, amount: Money) -> PaymentCommand {
        PaymentCommand(kind: .authorize, orderId: orderId, amount: amount, method: method)
    }

    /// The order's payment, or nil when it has none; `locking` takes its row
    /// lock (the caller holds the order's: orders → payments).
    static func payment(of orderId: UUID, locking: Bool, on connection: PostgresConnection) throws -> OrderDetails.Payment? {
        guard let row = try connection.query(
            """
            SELECT method, status, intent_id, amount_minor, currency, captured_minor, refunded_minor, reason
            FROM payments WHERE order_id = $1\(locking ? " FOR UPDATE" : "")
            """, [orderId]
        ).first else { return nil }
        let currency: String = try row.decode(4)
        return OrderDetails.Payment(
            method: try row.decode(0), status: try row.decode(1), intentId: try row.decode(2, as: String?.self),
            amount: Money(minor: try row.decode(3), currency: currency), captured: Money(minor: try row.decode(5), currency: currency),
            refunded: Money(minor: try row.decode(6), currency: currency), reason: try row.decode(7, as: String?.self))
    }

    /// Carries out the payment effects of a transition just recorded
    /// (`recorded`) for an order whose row the caller locked, and returns the
    /// commands to write to the outbox with it:
    /// - capturePayment: capture the authorized intent;
    /// - voidPayment: cancel the intent, when one is known and not captured or
    ///   voided already (an order reserved with no intent yet has nothing to
    ///   void: an authorization that arrives later is late and voided then);
    /// - refundPayment: give back `refundMinor` (a return's lines), or else
    ///   all that was captured, capped at what no earlier refund asked for; a
    ///   `payment_refunds` row REQUESTED under the step `refund-<seq>`.
    /// Nothing for an order without a payment.
    static func commands(
        for effects: [OrderEffect], of recorded: RecordedTransition, refundMinor: Int? = nil, on connection: PostgresConnection
    ) throws -> [PaymentCommand] {
        let paymentEffects = effects.filter { [.capturePayment, .voidPayment, .refundPayment].contains($0) }
        guard !paymentEffects.isEmpty, let payment = try payment(of: recorded.orderId, locking: true, on: connection) else { return [] }
        let orderId = recorded.orderId
        var commands: [PaymentCommand] = []
        for effect in paymentEffects {
            switch effect {
            case .capturePayment:
                guard let intentId = payment.intentId else { continue }
                commands.append(PaymentCommand(kind: .capture, orderId: orderId, amount: payment.amount, intentId: intentId))
            case .voidPayment:
                guard let intentId = payment.intentId, !["CAPTURED", "REFUNDED", "VOIDED"].contains(payment.status) else { continue }
                commands.append(PaymentCommand(kind: .void, orderId: orderId, amount: payment.amount, intentId: intentId))
            case .refundPayment:
                guard let intentId = payment.intentId else { continue }
                let asked: Int = try connection.query(
                    "SELECT coalesce(sum(amount_minor), 0)::bigint FROM payment_refunds WHERE order_id = $1 AND status <> 'FAILED'", [orderId]
                ).first!.decode(0)
                let left = payment.captured.minor - asked
                let amount = min(refundMinor ?? left, left)
                guard amount > 0 else { continue }
                let step = "refund-\(recorded.sequence)"
                try connection.query(
                    "INSERT INTO payment_refunds (order_id, step, amount_minor) VALUES ($1, $2, $3) ON CONFLICT (order_id, step) DO NOTHING",
                    [orderId, step, amount])
                commands.append(PaymentCommand(
                    kind: .refund, orderId: orderId, step: step, amount: Money(minor: amount, currency: payment.amount.currency), intentId: intentId))
            default:
                continue
            }
        }
        return commands
    }

    /// What a return refunds: each returned line's units at the unit price it was sold at.
    static func returnedAmount(of orderId: UUID, returned: [(line: Int, quantity: Int)], on connection: PostgresConnection) throws -> Int {
        guard !returned.isEmpty else { return 0 }
        return try connection.query(
            """
            SELECT coalesce(sum(l.unit_price_minor * d.quantity), 0)::bigint
            FROM order_lines l JOIN unnest($2::int[], $3::int[]) AS d(line_no, quantity) ON l.line_no = d.line_no
            WHERE l.order_id = $1
            """, [orderId, PostgresArray(returned.map(\.line)), PostgresArray(returned.map(\.quantity))]
        ).first!.decode(0)
    }
}
