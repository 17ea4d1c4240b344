import Foundation
import OrderCore
import OrderStore
import Postgres

/// `orderctl orders show ID`: an order as ordersdb has it.
public struct OrderAdmin: Sendable {
    public let databaseURL: String

    public init(databaseURL: String) {
        self.databaseURL = databaseURL
    }

    /// The order, or exit 1 when there is none with this id.
    public func show(_ id: UUID) throws -> OrderView {
        let connection = try DatabaseAdmin.connect(databaseURL, name: "ordersdb")
        defer { connection.close() }
        let view: OrderView?
        do {
            view = try Self.view(id, on: connection)
        } catch let error as PostgresError where error.kind == .connection {
            throw AdminError("lost the connection to ordersdb while reading order \(id.uuidString.lowercased()): \(error)", exitCode: ExitStatus.databaseUnavailable)
        }
        guard let view else { throw AdminError("no order \(id.uuidString.lowercased()) in ordersdb") }
        return view
    }

    /// The order and its history, read on `connection`; nil when there is no such order.
    public static func view(_ id: UUID, on connection: PostgresConnection) throws -> OrderView? {
        guard let details = try OrderQueries.order(id, on: connection) else { return nil }
        return OrderView(order: details, history: try OrderHistory.transitions(of: id, on: connection))
    }
}

public struct OrderView: Renderable, Encodable {
    public let order: OrderDetails
    /// Its transitions, oldest first.
    public let history: [RecordedTransition]

    private enum CodingKeys: String, CodingKey {
        case history
    }

    /// The order's fields as `OrderDetails` has them, and `history`.
    public func encode(to encoder: any Encoder) throws {
        try order.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(history, forKey: .history)
    }

    public func render(_ format: OutputFormat) -> String {
        switch format {
        case .json:
            // MessageCoding's dates and formatting, indented.
            let encoder = JSONEncoder()
            encoder.outputFormatting = MessageCoding.encoder.outputFormatting.union(.prettyPrinted)
            encoder.dateEncodingStrategy = MessageCoding.encoder.dateEncodingStrategy
            return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
        case .table:
            let o = order
            var fields: [[String]] = [
                ["order", o.orderId.uuidString.lowercased()], ["status", o.status.rawValue],
            ]
            if let reason = o.reason { fields.append(["reason", reason]) }
            if o.reviewRequired { fields.append(["review", o.reviewReason ?? "required"]) }
            if let key = o.idempotencyKey { fields.append(["idempotency key", key]) }
            if let channel = o.channel {
                fields.append(["channel", "\(channel.name) \(channel.shop) order \(channel.orderId)" + (channel.orderName.map { " (\($0))" } ?? "")])
            }
            if let payment = o.payment {
                fields.append(["payment", "\(payment.status) \(payment.amount) by \(payment.method), intent \(payment.intentId ?? "-")"])
                fields.append(["captured / refunded", "\(payment.captured) / \(payment.refunded)"])
                if let reason = payment.reason { fields.append(["payment reason", reason]) }
            }
            if let queued = o.queuedAt { fields.append(["queued at", MessageCoding.formatDate(queued)]) }
            fields.append(["created at", MessageCoding.formatDate(o.createdAt)])
            fields.append(["updated at", MessageCoding.formatDate(o.updatedAt)])
            let width = fields.map { $0[0].count }.max() ?? 0
            var out = fields.map { $0[0].padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0[1] }
            out.append("")
            out.append("lines:")
            out.append(Report(columns: ["line", "product", "quantity"], rows: o.lines.map { ["\($0.lineNo)", $0.productId, "\($0.quantity)"] }).render(.table))
            out.append("")
            out.append("allocations:")
            out.append(
                Report(
                    columns: ["line", "vendor", "product", "quantity", "status", "applied at", "allocation"],
                    rows: o.allocations.map {
                        [$0.lineNo.map(String.init) ?? "-", $0.vendorId, $0.productId, "\($0.quantity)", $0.status, $0.appliedAt.map(MessageCoding.formatDate) ?? "-",
                         $0.movementId.uuidString.lowercased()]
                    }
                ).render(.table))
            out.append("")
            out.append("history:")
            out.append(
                Report(
                    columns: ["seq", "at", "from", "to", "cause", "actor", "reason"],
                    rows: history.map {
                        ["\($0.sequence)", MessageCoding.formatDate($0.occurredAt), $0.from.rawValue, $0.to.rawValue, $0.cause, $0.actor.rawValue, $0.reason ?? "-"]
                    }
                ).render(.table))
            return out.joined(separator: "\n")
        }
    }
}
