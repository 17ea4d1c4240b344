import OrderCore
@testable import OrderStore
import Testing

/// What an order that pays costs: integer minor units of one currency, or why
/// it cannot be charged (the worker rejects the order with that reason).
@Suite struct PaymentPricingTests {
    let prices = ["a": Money(minor: 1250, currency: "EUR"), "b": Money(minor: 799, currency: "EUR"), "u": Money(minor: 500, currency: "USD")]

    @Test func theAmountIsEachLinesUnitsAtItsPrice() {
        let lines = [OrderLine(productId: "a", quantity: 3), OrderLine(productId: "b", quantity: 2)]
        #expect(Payments.price(lines, prices: prices) == .amount(Money(minor: 3 * 1250 + 2 * 799, currency: "EUR")))
    }

    @Test func anUnpricedProductOrTwoCurrenciesAreRefusedByName() {
        #expect(Payments.price([OrderLine(productId: "a", quantity: 1), OrderLine(productId: "z", quantity: 1)], prices: prices)
                == .refused("product-unpriced: z"))
        #expect(Payments.price([OrderLine(productId: "a", quantity: 1), OrderLine(productId: "u", quantity: 1)], prices: prices)
                == .refused("mixed-currency: EUR, USD"))
    }

    /// Beyond what a card can be charged (or what Int holds) the order is refused, never a trap.
    @Test func anAmountBeyondTheGatewaysLimitIsRefusedNotATrap() {
        let huge = ["h": Money(minor: Int.max / 2, currency: "EUR"), "m": Money(minor: Money.maximumMinor, currency: "EUR")]
        #expect(Payments.price([OrderLine(productId: "h", quantity: 3)], prices: huge) == .refused("payment-amount-too-large: more than 99999999 minor units"))
        #expect(Payments.price([OrderLine(productId: "m", quantity: 2)], prices: huge) == .refused("payment-amount-too-large: more than 99999999 minor units"))
        #expect(Payments.price([OrderLine(productId: "m", quantity: 1)], prices: huge) == .amount(Money(minor: Money.maximumMinor, currency: "EUR")))
        #expect(Payments.price([OrderLine(productId: "z0", quantity: 1)], prices: ["z0": Money(minor: 0, currency: "EUR")])
                == .refused("payment-amount-zero: the products cost nothing"))
    }
}
