import Foundation
import OrderCore
import Testing

/// Order ids carry a MAC keyed by the deployment's secret: the API knows its
/// own ids, and nobody without the secret can compute or forge one.
@Suite struct OrderIDTests {
    let orderIDs = try! OrderID(secret: "a-secret-of-at-least-16-bytes")

    @Test func theAPIRecognisesItsOwnIdsKeyedOrRandom() {
        #expect(orderIDs.isOurs(orderIDs.make(idempotencyKey: "checkout-42")))
        for _ in 0..<100 { #expect(orderIDs.isOurs(orderIDs.make(randomness: UUID()))) }
    }

    @Test func anotherSecretGivesOtherIdsAndRecognisesNone() throws {
        let other = try OrderID(secret: "another-secret-of-16-bytes-or-more")
        let id = orderIDs.make(idempotencyKey: "checkout-42")
        #expect(other.make(idempotencyKey: "checkout-42") != id, "a guessed key does not give the id")
        #expect(!other.isOurs(id))
        #expect(!orderIDs.isOurs(other.make(idempotencyKey: "checkout-42")))
    }

    /// Any one changed bit (in the nonce or the tag) and the id is not ours;
    /// nor are version 4 and 5 ids (the ones issued before ids were signed).
    @Test func aForgedOrAlteredIdIsNotOurs() {
        let id = orderIDs.make(idempotencyKey: "checkout-42")
        for byte in 0..<16 {
            for bit in 0..<8 {
                var bytes = id.uuid
                withUnsafeMutableBytes(of: &bytes) { $0[byte] ^= 1 << bit }
                #expect(!orderIDs.isOurs(UUID(uuid: bytes)), "byte \(byte) bit \(bit)")
            }
        }
        #expect(!orderIDs.isOurs(UUID()))
        #expect(!orderIDs.isOurs(UUID(uuidString: "cbc0a947-d9a7-5517-9577-205d132d2ff4")!))
    }

    @Test func randomIdsDifferAndAreVersion8() {
        let ids = (0..<1000).map { _ in orderIDs.make(randomness: UUID()) }
        #expect(Set(ids).count == 1000)
        #expect(ids.allSatisfy { $0.uuidString.dropFirst(14).first == "8" })
        #expect(ids.allSatisfy { "89AB".contains($0.uuidString.dropFirst(19).first!) }, "RFC 9562 variant")
    }

    @Test func aShortSecretIsRefused() {
        #expect(throws: OrderID.WeakSecret.self) { try OrderID(secret: "too-short") }
    }
}
