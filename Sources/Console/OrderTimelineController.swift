import Admin
import Foundation
import HTTPSupport
import Hummingbird
import OrderCore
import OrderStore

/// `/orders/{id}`: one order's timeline: its transitions, stock movements,
/// payment, shipments, and the messages about it that sit in a DLQ.
struct OrderTimelineController: Sendable {
    let admin: DeadLetterAdmin
    let access: ConsoleAccess

    func addRoutes(to router: HTTPRouter<ConsoleRequestContext>) {
        router.get("/orders") { request, _ in
            if let id = request.uri.queryParameters.get("id").map({ $0.trimmingCharacters(in: .whitespaces) }), !id.isEmpty {
                return Response(status: .seeOther, headers: [.location: "/orders/\(HTML.query(id))"])
            }
            return access.page(
                "Orders", for: request,
                "<form method=\"get\" action=\"/orders\"><label>Order id <input name=\"id\" id=\"order-id\"></label> <button>Show</button></form>")
        }
        router.get("/orders/{id}") { request, context in try await timeline(request, id: context.parameters.get("id") ?? "") }
    }

    private func timeline(_ request: Request, id text: String) async throws -> Response {
        guard let id = UUID(uuidString: text) else {
            throw ConsoleRefusal(status: .badRequest, title: "Not an order id", message: "“\(text)” is not an order id (a UUID).")
        }
        let lower = id.uuidString.lowercased()
        let view = try await access.database.withConnection { try OrderAdmin.view(id, on: $0) }
        let deadLetters = try await admin.peek(count: DeadLetterController.shown, filter: DeadLetterFilter(containing: lower))
            .queues.flatMap(\.messages)
        var content = ""
        if let view {
            content += order(view)
        } else {
            content += "<p class=\"notice\" id=\"no-order\">ordersdb has no order \(HTML.escape(lower)) (yet: an order is stored when the worker applies it).</p>"
        }
        content += "<h2>Messages about it in dead-letter queues</h2>"
        content += HTML.table(
            ["queue", "message id", "reason", "failed at", ""],
            deadLetters.map { message in
                let selection = DeadLetterSelection(queue: message.queue, messageID: message.messageID, search: message.messageID == nil ? lower : nil)
                return [
                    HTML.escape(message.queue), HTML.escape(message.messageID ?? "-"), HTML.escape(message.reason),
                    HTML.escape(message.failedAt.map(MessageCoding.formatDate) ?? "-"),
                    "<a href=\"/dead-letters/messages?\(HTML.escape(selection.queryString))\">peek</a>",
                ]
            }, empty: "None.")
        return access.page("Order \(lower)", for: request, content)
    }

    private func order(_ view: OrderView) -> String {
        let o = view.order
        var summary: [(String, String)] = [("status", o.status.rawValue)]
        if let reason = o.reason { summary.append(("reason", reason)) }
        if o.reviewRequired { summary.append(("review", o.reviewReason ?? "required")) }
        if let channel = o.channel { summary.append(("channel", "\(channel.name) \(channel.shop) order \(channel.orderId)")) }
        if let queued = o.queuedAt { summary.append(("queued at", MessageCoding.formatDate(queued))) }
        summary.append(("created at", MessageCoding.formatDate(o.createdAt)))
        summary.append(("updated at", MessageCoding.formatDate(o.updatedAt)))
        var out = "<p id=\"status\">Status: <b class=\"status\">\(HTML.escape(o.status.rawValue))</b></p>"
        out += HTML.table(["field", "value"], summary.map { [HTML.escape($0.0), HTML.escape($0.1)] })
        out += "<h2>Lines</h2>" + HTML.table(["line", "product", "quantity", "returned"], o.lines.map {
            ["\($0.lineNo)", HTML.escape($0.productId), "\($0.quantity)", "\($0.returnedQuantity)"]
        })
        out += "<h2>Transitions</h2>" + HTML.table(
            ["#", "at", "from", "to", "cause", "actor", "reason"],
            view.history.map {
                [
                    "\($0.sequence)", HTML.escape(MessageCoding.formatDate($0.occurredAt)), HTML.escape($0.from.rawValue), HTML.escape($0.to.rawValue),
                    HTML.escape($0.cause), HTML.escape($0.actor.rawValue), HTML.escape($0.reason ?? "-"),
                ]
            })
        out += "<h2>Stock movements</h2>" + HTML.table(
            ["kind", "line", "vendor", "product", "quantity", "status", "applied at", "created at"],
            o.movements.map {
                [
                    HTML.escape($0.kind), $0.lineNo.map(String.init) ?? "-", HTML.escape($0.vendorId), HTML.escape($0.productId), "\($0.quantity)",
                    HTML.escape($0.status), HTML.escape($0.appliedAt.map(MessageCoding.formatDate) ?? "-"), HTML.escape(MessageCoding.formatDate($0.createdAt)),
                ]
            })
        out += "<h2>Payment</h2>"
        if let payment = o.payment {
            out += HTML.table(
                ["status", "method", "amount", "captured", "refunded", "intent", "reason"],
                [[
                    HTML.escape(payment.status), HTML.escape(payment.method), HTML.escape(payment.amount.description),
                    HTML.escape(payment.captured.description), HTML.escape(payment.refunded.description), HTML.escape(payment.intentId ?? "-"),
                    HTML.escape(payment.reason ?? "-"),
                ]])
        } else {
            out += "<p class=\"muted\">No payment.</p>"
        }
        out += "<h2>Shipments</h2>" + HTML.table(
            ["tracking number", "carrier", "status", "updated at"],
            (o.shipments ?? []).map {
                [HTML.escape($0.trackingNumber), HTML.escape($0.carrier ?? "-"), HTML.escape($0.status), HTML.escape(MessageCoding.formatDate($0.updatedAt))]
            }, empty: "No shipments.")
        return out
    }
}
