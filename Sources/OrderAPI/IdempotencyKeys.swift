import Foundation
import HTTPSupport
import Logging
import OrderCore
import OrderStore
import Postgres
import ServiceSupport
import Synchronization

/// Whether a request may use its `Idempotency-Key`: the same key with the
/// same lines is a retry (answered with the same order id, applied once by
/// the worker); the same key with other lines is a 422 (the IETF
/// Idempotency-Key draft, section 2.7), never a second order silently dropped.
///
/// The API writes nothing at intake (it keeps accepting while PostgreSQL is
/// down), so a key is checked against two records, neither complete:
/// - the keys this instance accepted lately (the last ``remembered``), held
///   from before the publish, so two requests racing with one key and
///   different lines are told apart even while the first order is queued;
/// - the `orders` table, for a key not among them: it holds every order the
///   worker has processed, from any instance. A lookup that fails (the
///   database is down) lets the request through, and lookups pause for
///   ``lookupPause`` so a database that is down costs one failed lookup,
///   not one per request.
/// A key reused on another instance while its first order is still queued,
/// or while the database cannot be asked, goes through: the worker then
/// applies the first order and answers the second as its duplicate.
///
/// Keys are global: POST /order has no caller authentication yet, so two
/// clients that choose the same key share it. Once callers authenticate,
/// the key is to be scoped by the caller.
final class IdempotencyKeys: Sendable {
    /// About 300 bytes a key at most: a few MB for the whole memory.
    static let remembered = 10_000
    static let lookupPause: Duration = .seconds(5)

    private let database: PostgresPool
    private let state = Mutex(State())

    private struct State {
        /// Each key's order digest, its slot in `slots`, and the id of the
        /// stored order that holds it, when the database said so.
        var keys: [String: (digest: Int, slot: Int, storedOrderId: UUID?)] = [:]
        /// A ring of the remembered keys: the oldest is forgotten first.
        var slots: [String] = []
        var next = 0
        var lookupsPausedUntil: ContinuousClock.Instant?
    }

    private enum Claim { case new, sameLines(storedOrderId: UUID?), otherLines }

    /// What a request may do with its key: `isFirst` when it is the first here
    /// to use it (it gives the key back if its order is not accepted), and
    /// the stored order's id when the key already has an order: the id to
    /// answer with, since ids signed under another secret (or before ids were
    /// signed) are not the ones the key derives now.
    struct KeyClaim {
        let isFirst: Bool
        let storedOrderId: UUID?
    }

    init(database: PostgresPool) {
        self.database = database
    }

    /// Takes `key` for `lines`, or throws the 422 problem when it stands for
    /// other lines. True when this request is the first here to use the key:
    /// if its order is then not accepted, it gives the key back with
    /// ``release(_:for:)``. A retry (false) leaves the key to the first.
    func claim(_ key: String, for submission: OrderSubmission, logger: Logger) async throws -> KeyClaim {
        let digest = Self.digest(submission)
        switch claim(key, digest: digest) {
        case .sameLines(let storedOrderId): return KeyClaim(isFirst: false, storedOrderId: storedOrderId)
        case .otherLines: throw Self.reused(key)
        case .new: break
        }
        guard let stored = await storedOrder(of: key, logger: logger) else { return KeyClaim(isFirst: true, storedOrderId: nil) }
        guard stored.lines == submission.lines else {
            release(key, digest: digest)
            throw Self.reused(key)
        }
        state.withLock { state in
            if let known = state.keys[key], known.digest == digest { state.keys[key]?.storedOrderId = stored.orderId }
        }
        return KeyClaim(isFirst: true, storedOrderId: stored.orderId)
    }

    /// Forgets `key` if it still stands for `submission`: the order was not
    /// accepted, so the client may retry the key with another order.
    func release(_ key: String, for submission: OrderSubmission) {
        release(key, digest: Self.digest(submission))
    }

    /// A digest with the process's hash seed: it never leaves the process.
    /// The whole order counts: the same lines with another checkout hold or
    /// another payment are another order, not a retry. Two different orders
    /// that collide (a chance in 2^64) would pass as a retry, and the worker
    /// would drop the second as a duplicate.
    private static func digest(_ submission: OrderSubmission) -> Int {
        var hasher = Hasher()
        hasher.combine(submission)
        return hasher.finalize()
    }

    private func claim(_ key: String, digest: Int) -> Claim {
        state.withLock { state in
            if let known = state.keys[key] { return known.digest == digest ? .sameLines(storedOrderId: known.storedOrderId) : .otherLines }
            if state.slots.count < Self.remembered {
                state.keys[key] = (digest, state.slots.count, nil)
                state.slots.append(key)
            } else {
                let slot = state.next
                let oldest = state.slots[slot]
                if state.keys[oldest]?.slot == slot { state.keys[oldest] = nil }
                state.slots[slot] = key
                state.keys[key] = (digest, slot, nil)
                state.next = (slot + 1) % Self.remembered
            }
            return .new
        }
    }

    private func release(_ key: String, digest: Int) {
        state.withLock { state in
            if state.keys[key]?.digest == digest { state.keys[key] = nil }
        }
    }

    /// The stored order; nil when there is none or the database cannot tell.
    private func storedOrder(of key: String, logger: Logger) async -> (orderId: UUID, lines: [OrderLine])? {
        let paused = state.withLock { state in state.lookupsPausedUntil.map { ContinuousClock.now < $0 } ?? false }
        guard !paused else { return nil }
        do {
            return try await database.withConnection { try OrderQueries.order(ofIdempotencyKey: key, on: $0) }
        } catch {
            let wasLookingUp = state.withLock { state in
                defer { state.lookupsPausedUntil = ContinuousClock.now + Self.lookupPause }
                return state.lookupsPausedUntil.map { ContinuousClock.now >= $0 } ?? true
            }
            if wasLookingUp {
                logger.warning(
                    "idempotency keys: the database lookup failed; checking only this instance's recent keys for now",
                    metadata: [LogKey.error: "\(error)"])
            }
            return nil
        }
    }

    private static func reused(_ key: String) -> Problem {
        Problem(
            status: .unprocessableContent, code: "idempotency-key-reused", title: "The Idempotency-Key was used for another order",
            detail: "the key \(key) was first sent with other lines; send a new key for a new order")
    }
}
