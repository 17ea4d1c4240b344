import Crypto
import Foundation
import TextCodecs

/// The body of a `vendor_sync` message that carries many movements: all the
/// movements for one vendor from one window of orders (order-worker) or one
/// transaction (the outbox), AMQP `type` "vendor.movements.v1". Body
/// `{"movements":[<movement>,…],"vendorId":"…"}`, each movement in the exact
/// form of a single `VendorMovement` message. A group of one movement goes as
/// that single message (``outboundMessage(queue:)``), so a batch always holds
/// two or more, and a single message means one movement wherever it is seen.
///
/// Traces: the message's headers carry one trace, its first movement's order's.
/// A movement of another order carries its order's trace in its entry's
/// optional `traceparent` (one string per order, shared by its entries), which
/// vendor-sync uses for that movement's lines and for what settling it writes
/// to the outbox. An entry without one belongs to the message's trace: a batch
/// of one order, or one transaction, writes none, so the common case costs nothing.
public struct VendorMovementBatch: Sendable, Hashable {
    public static let messageType = "vendor.movements.v1"

    public struct Entry: Sendable, Hashable {
        public let movement: VendorMovement
        /// The W3C traceparent of the movement's order when it is not the message's.
        public var traceparent: String?

        public init(_ movement: VendorMovement, traceparent: String? = nil) {
            self.movement = movement
            self.traceparent = traceparent
        }
    }

    /// An entry that did not decode: its own JSON (compact, sorted keys), to be
    /// dead-lettered alone as a single message, and why.
    public struct InvalidEntry: Sendable, Hashable {
        public let index: Int
        public let body: [UInt8]
        public let poison: PoisonMessage
        /// Its movement id when it has a readable one.
        public let movementId: String?
    }

    /// A `vendor_sync` body of either type, as vendor-sync reads it.
    public struct Decoded: Sendable, Hashable {
        /// True for a "vendor.movements.v1" body, false for a single movement.
        public let isBatch: Bool
        public let entries: [Entry]
        public let invalid: [InvalidEntry]
    }

    public let vendorId: String
    public var entries: [Entry]

    public init(vendorId: String, entries: [Entry]) {
        self.vendorId = vendorId
        self.entries = entries
    }

    /// The entries grouped by vendor (each vendor's in their order), vendors in name order.
    public static func grouped(_ entries: [Entry]) -> [VendorMovementBatch] {
        Dictionary(grouping: entries, by: \.movement.vendorId).sorted { $0.key < $1.key }.map {
            VendorMovementBatch(vendorId: $0.key, entries: $0.value)
        }
    }

    /// Whether its movements come from more than one order.
    public var spansOrders: Bool {
        guard let first = entries.first?.movement.orderId else { return false }
        return entries.contains { $0.movement.orderId != first }
    }

    /// The same bytes as `MessageCoding.encoder` would write (sorted keys), written directly.
    public func encoded() -> [UInt8] {
        var writer = JSONWriter(capacity: 32 + vendorId.utf8.count + entries.count * (200 + vendorId.utf8.count))
        writer.raw(#"{"movements":["#)
        for (index, entry) in entries.enumerated() {
            if index > 0 { writer.raw(",") }
            entry.movement.write(to: &writer, traceparent: entry.traceparent)
        }
        writer.raw(#"],"vendorId":"#)
        writer.string(vendorId)
        writer.raw("}")
        return writer.bytes
    }

    /// Deterministic from its movement ids, whatever their order, so a
    /// re-publication of the same movements (a redelivered window, a
    /// duplicate order) carries the same id: a name-based (SHA-1, version 5)
    /// UUID of the sorted ids.
    public var messageId: UUID {
        var name: [UInt8] = []
        name.reserveCapacity(16 * (entries.count + 1))
        withUnsafeBytes(of: Self.namespace.uuid) { name.append(contentsOf: $0) }
        // Sorted by their bytes (big-endian halves), without a string per id.
        let ids = entries.map { entry in
            withUnsafeBytes(of: entry.movement.movementId.uuid) { ($0.loadUnaligned(as: UInt64.self).bigEndian, $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self).bigEndian) }
        }
        for (high, low) in ids.sorted(by: <) {
            withUnsafeBytes(of: high.bigEndian) { name.append(contentsOf: $0) }
            withUnsafeBytes(of: low.bigEndian) { name.append(contentsOf: $0) }
        }
        var bytes = Array(Insecure.SHA1.hash(data: name).prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x50
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        return bytes.withUnsafeBytes { UUID(uuid: $0.loadUnaligned(as: uuid_t.self)) }
    }

    private static let namespace = UUID(uuidString: "6F1B7C1E-5A0D-4E39-9F25-2C6B1C8A7E41")!

    /// Its vendor_sync message (to the queue by name through the default
    /// exchange): one movement as its single message, more as a batch with
    /// `correlation_id` the order id when they are all of one order.
    public func outboundMessage(queue: String) -> OutboundMessage {
        if entries.count == 1 { return entries[0].movement.outboundMessage(queue: queue) }
        return OutboundMessage(
            exchange: "", routingKey: queue, messageId: UUIDText.string(messageId),
            correlationId: spansOrders ? nil : entries.first.map { UUIDText.string($0.movement.orderId) }, type: Self.messageType, body: encoded())
    }

    /// Decodes a vendor_sync body of either type. A body that is no movement
    /// and no batch (not JSON, no `movements` array, no entry) is poison
    /// whole; a batch entry that does not decode is returned in `invalid`,
    /// named `movements[i]` in its detail, and its batch-mates decode.
    public static func decode(_ body: [UInt8]) throws(PoisonMessage) -> Decoded {
        let object = try MessageFields.object(body)
        guard let movements = object["movements"] else {
            var fields = MessageFields(object: object)
            return Decoded(isBatch: false, entries: [Entry(try VendorMovement.decode(&fields))], invalid: [])
        }
        guard case .array(let items) = movements, !items.isEmpty else {
            throw PoisonMessage(reason: .invalid, detail: "movements: must be a non-empty array")
        }
        guard case .string(let vendorId)? = object["vendorId"], !vendorId.isEmpty else {
            throw PoisonMessage(reason: .invalid, detail: "vendorId: must be a non-empty string")
        }
        var entries: [Entry] = []
        entries.reserveCapacity(items.count)
        var invalid: [InvalidEntry] = []
        for (index, item) in items.enumerated() {
            do throws(PoisonMessage) {
                entries.append(try entry(item, vendorId: vendorId))
            } catch {
                var movementId: String?
                if case .object(let fields) = item, case .string(let id)? = fields["movementId"] { movementId = id }
                invalid.append(
                    InvalidEntry(
                        index: index, body: Array(item.json(pretty: false).utf8),
                        poison: PoisonMessage(reason: error.reason, detail: "movements[\(index)]: \(error.detail)"), movementId: movementId))
            }
        }
        return Decoded(isBatch: true, entries: entries, invalid: invalid)
    }

    private static func entry(_ item: JSONValue, vendorId: String) throws(PoisonMessage) -> Entry {
        guard case .object(let object) = item else {
            throw PoisonMessage(reason: .invalid, detail: "must be a JSON object, not \(item.typeName)")
        }
        var fields = MessageFields(object: object)
        var traceparent: String?
        switch fields["traceparent"] {
        case nil: break
        case .string(let text)?: traceparent = text
        case let other?: fields.note("traceparent: must be a string, not \(other.typeName)")
        }
        if case .string(let own)? = fields["vendorId"], own != vendorId {
            fields.note("vendorId: \"\(own)\" is not the batch's \"\(vendorId)\"")
        }
        // Throws with the notes above too: every wrong field is named.
        return Entry(try VendorMovement.decode(&fields), traceparent: traceparent)
    }
}
