import Foundation
import Shopify
import Testing

/// `X-Shopify-Hmac-Sha256`: the base64 HMAC-SHA256 of the raw body keyed by
/// the app's secret. Known values from an independent implementation
/// (`printf %s BODY | openssl dgst -sha256 -hmac SECRET -binary | base64`).
@Suite struct ShopifyWebhookSignatureTests {
    static let secret = "hush"
    static let body = Array(##"{"id":820982911946154508,"name":"#1001"}"##.utf8)
    static let known = "Mkf2s8BiWQBb/dlay3RDP15QWaH8IejS3UDTmBxVmfo="

    let signature = ShopifyWebhookSignature(secret: ShopifyWebhookSignatureTests.secret)

    @Test func theHeaderIsTheBase64HMACOfTheRawBody() throws {
        #expect(signature.header(for: Self.body) == Self.known)
        try signature.verify(header: Self.known, body: Self.body)
        try signature.verify(header: " \(Self.known) ", body: Self.body)
    }

    @Test func aMissingOrEmptyHeaderIsRefused() {
        #expect(throws: ShopifyWebhookSignature.Failure.missingHeader) { try signature.verify(header: nil, body: Self.body) }
        #expect(throws: ShopifyWebhookSignature.Failure.missingHeader) { try signature.verify(header: "", body: Self.body) }
    }

    @Test(arguments: ["not base64!", "c2hvcnQ=", Data(repeating: 1, count: 33).base64EncodedString()])
    func aHeaderThatIsNotA32ByteMACIsMalformed(header: String) {
        #expect(throws: ShopifyWebhookSignature.Failure.malformedHeader) { try signature.verify(header: header, body: Self.body) }
    }

    @Test func anotherBodyOrSecretDoesNotVerify() {
        var altered = Self.body
        altered[altered.count - 3] = UInt8(ascii: "2")
        #expect(throws: ShopifyWebhookSignature.Failure.mismatch) { try signature.verify(header: Self.known, body: altered) }
        let other = ShopifyWebhookSignature(secret: "hush2")
        #expect(throws: ShopifyWebhookSignature.Failure.mismatch) { try other.verify(header: Self.known, body: Self.body) }
        #expect(throws: ShopifyWebhookSignature.Failure.mismatch) { try signature.verify(header: Self.known, body: []) }
    }
}
