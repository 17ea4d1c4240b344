import StripeAPI
import Testing

/// How a non-2xx answer is classified: the four kinds the payment worker routes differently.
@Suite struct StripeErrorTests {
    private func classify(_ status: Int, _ body: String = "") -> StripeError {
        StripeError.classify(status: status, body: Array(body.utf8))
    }

    @Test func aCardErrorIsADeclineWithTheIssuersCode() {
        let body = #"{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds."}}"#
        #expect(classify(402, body) == .declined(code: "insufficient_funds"))
    }

    /// localstripe sends no decline_code and calls it an invalid_request_error: the status decides.
    @Test func aCardErrorWithoutADeclineCodeIsDeclinedWithItsCode() {
        let body = #"{"error":{"charge":"ch_1","code":"card_declined","message":"Your card was declined.","type":"invalid_request_error"}}"#
        #expect(classify(402, body) == .declined(code: "card_declined"))
        #expect(classify(402, "not json") == .declined(code: "card_declined"))
    }

    /// Away, or asking us to slow down (429): either way the call waits without spending a retry.
    @Test(arguments: [429, 502, 503, 504])
    func aGatewayThatIsAwayOrThrottlingIsUnavailable(status: Int) {
        #expect(classify(status, "<html>bad gateway</html>") == .unavailable(detail: "HTTP \(status)"))
    }

    @Test(arguments: [500, 501])
    func otherServerErrorsAreServerErrors(status: Int) {
        #expect(classify(status, #"{"error":{"type":"api_error","message":"Not implemented"}}"#) == .serverError(status: status))
    }

    @Test func anyOtherClientErrorIsRejectedForGood() {
        let body = #"{"error":{"type":"invalid_request_error","code":"payment_intent_unexpected_state","message":"Bad request"}}"#
        #expect(classify(400, body) == .rejected(status: 400, code: "payment_intent_unexpected_state", message: "Bad request"))
        #expect(classify(404, #"{"error":{"type":"invalid_request_error","message":"Not Found"}}"#) == .rejected(status: 404, code: nil, message: "Not Found"))
        #expect(classify(401, "") == .rejected(status: 401, code: nil, message: "HTTP 401"))
    }

    @Test func theDescriptionNamesTheKindAndTheCode() {
        #expect("\(StripeError.declined(code: "card_declined"))" == "declined: card_declined")
        #expect("\(StripeError.rejected(status: 400, code: "x", message: "Bad request"))" == "gateway refused the call: HTTP 400 x: Bad request")
    }
}
