import Foundation
import StripeAPI
import Testing

@Suite struct StripeSignatureTests {
    let signature = StripeSignature(secret: "whsec_test_secret")
    let body = Array(#"{"id":"evt_1","type":"payment_intent.payment_failed"}"#.utf8)
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func aSignatureMadeWithTheSecretVerifies() throws {
        try signature.verify(header: signature.header(for: body, timestamp: 1_800_000_000), body: body, now: now)
    }

    /// HMAC-SHA256 over "t.payload" in hex, as Stripe documents it, checked against Python's hmac.
    @Test func theSignatureIsTheHexHMACOfTimestampDotBody() throws {
        // python3: hmac.new(b"whsec_test_secret", b"42.{}", hashlib.sha256).hexdigest()
        #expect(signature.header(for: Array("{}".utf8), timestamp: 42) == "t=42,v1=c1ad62073715e1288e17c48463c965cb18de262046b5a21fb525a94667fde5d2")
    }

    @Test func aTamperedBodyIsRefused() {
        let header = signature.header(for: body, timestamp: 1_800_000_000)
        var tampered = body
        tampered[tampered.count - 3] ^= 0x01
        #expect(throws: StripeSignature.Failure.mismatch) { try signature.verify(header: header, body: tampered, now: now) }
    }

    @Test func anotherSecretIsRefused() {
        let header = StripeSignature(secret: "whsec_other").header(for: body, timestamp: 1_800_000_000)
        #expect(throws: StripeSignature.Failure.mismatch) { try signature.verify(header: header, body: body, now: now) }
    }

    @Test func aTimestampOutsideFiveMinutesIsRefused() {
        let stale = signature.header(for: body, timestamp: 1_800_000_000 - 301)
        #expect(throws: StripeSignature.Failure.staleTimestamp(ageSeconds: 301)) { try signature.verify(header: stale, body: body, now: now) }
        let future = signature.header(for: body, timestamp: 1_800_000_000 + 301)
        #expect(throws: StripeSignature.Failure.staleTimestamp(ageSeconds: -301)) { try signature.verify(header: future, body: body, now: now) }
        #expect(throws: Never.self) { try signature.verify(header: signature.header(for: body, timestamp: 1_800_000_000 - 300), body: body, now: now) }
    }

    @Test func aMissingOrMalformedHeaderIsRefused() {
        #expect(throws: StripeSignature.Failure.missingHeader) { try signature.verify(header: nil, body: body, now: now) }
        #expect(throws: StripeSignature.Failure.malformedHeader) { try signature.verify(header: "v1=abcd", body: body, now: now) }
        #expect(throws: StripeSignature.Failure.malformedHeader) { try signature.verify(header: "t=1800000000", body: body, now: now) }
        #expect(throws: StripeSignature.Failure.malformedHeader) { try signature.verify(header: "t=1800000000,v1=zz", body: body, now: now) }
    }

    /// While a secret is rolled Stripe signs with both: one match is enough.
    @Test func oneMatchingSignatureAmongSeveralIsEnough() throws {
        let good = signature.header(for: body, timestamp: 1_800_000_000)
        let other = StripeSignature(secret: "whsec_old").header(for: body, timestamp: 1_800_000_000)
        let v1Good = good.split(separator: ",")[1], v1Other = other.split(separator: ",")[1]
        try signature.verify(header: "t=1800000000,\(v1Other),\(v1Good)", body: body, now: now)
    }
}
