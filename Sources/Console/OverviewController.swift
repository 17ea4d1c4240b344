import Admin
import Foundation
import HTTPSupport
import Hummingbird
import OrderCore
import OrderStore

/// `/queues`, `/stock` and `/audit`: what the broker and the database hold, read-only.
struct OverviewController: Sendable {
    let queues: QueueOverview
    let access: ConsoleAccess

    func addRoutes(to router: HTTPRouter<ConsoleRequestContext>) {
        router.get("/") { _, _ in Response(status: .seeOther, headers: [.location: "/queues"]) }
        router.get("/queues") { request, _ in try await queuePage(request) }
        router.get("/stock") { request, _ in try await stockPage(request) }
        router.get("/audit") { request, _ in try await auditPage(request) }
    }

    private func queuePage(_ request: Request) async throws -> Response {
        let figures = try await queues.figures()
        func count(_ value: Int?) -> String { value.map(String.init) ?? "<span class=\"warn\">missing</span>" }
        let rows = figures.map { queue in
            let name = HTML.escape(queue.name)
            let link = queue.role == "deadLetter" ? "<a href=\"/dead-letters/messages?queue=\(HTML.escape(HTML.query(queue.name)))\">\(name)</a>" : name
            return [link, HTML.escape(queue.role), count(queue.ready), count(queue.unacknowledged), count(queue.consumers)]
        }
        return access.page(
            "Queues", for: request,
            HTML.table(["queue", "role", "ready", "unacknowledged", "consumers"], rows)
                + "<p class=\"muted\">From the broker's management API, which refreshes its figures every few seconds.</p>")
    }

    private func stockPage(_ request: Request) async throws -> Response {
        let product = request.uri.queryParameters.get("product").flatMap { $0.isEmpty ? nil : $0 }
        let figures = try await access.database.withConnection { try StockOverview.figures(product: product, on: $0) }
        let rows = figures.map { figure in
            [
                HTML.escape(figure.productId), HTML.escape(figure.productName ?? "-"), HTML.escape(figure.vendorId), "\(figure.stock)", "\(figure.held)",
                "\(figure.pending)", HTML.escape(figure.syncedAt.map(MessageCoding.formatDate) ?? "never"),
            ]
        }
        return access.page(
            "Stock", for: request,
            """
            <form method="get" action="/stock"><label>Product <input name="product" value="\(HTML.escape(product ?? ""))"></label> <button>Show</button></form>
            \(HTML.table(["product", "name", "vendor", "available", "held (reserved)", "pending (unapplied at the vendor)", "last synced"], rows, empty: "No stock."))
            <p class="muted">Available is local stock, after allocations and holds. Held: units live reservations keep. \
            Pending: units allocated (less restocked) that vendor-sync has not applied at the vendor yet.</p>
            """)
    }

    private func auditPage(_ request: Request) async throws -> Response {
        let entries = try await access.database.withConnection { try AuditLog.entries(since: nil, limit: 200, on: $0) }
        let rows = entries.reversed().map { entry in
            [
                HTML.escape(entry.at.map(MessageCoding.formatDate) ?? "-"), HTML.escape(entry.who), HTML.escape(entry.action), "\(entry.count)",
                HTML.escape(entry.target), HTML.escape(entry.detail ?? "-"),
            ]
        }
        return access.page("Audit log", for: request, HTML.table(["at", "who", "action", "count", "target", "detail"], rows, empty: "Nothing yet."))
    }
}
