import Admin
import Foundation
import HTTPTypes
import HTTPSupport
import Hummingbird
import Messaging
import OrderCore
import TextCodecs

/// `/dead-letters`: the DLQs grouped by failure reason and by queue, search,
/// peek, and replay or purge of a group or one message. An action is two
/// POSTs: the dry run (how many, which), then the confirmation, which acts
/// on at most as many messages as the dry run counted. Replays go through
/// `DeadLetterAdmin.replay`, the confirm-then-ack transfer of `orderctl dlq replay`.
struct DeadLetterController: Sendable {
    let admin: DeadLetterAdmin
    let access: ConsoleAccess

    /// Most messages a peek or a dry run lists.
    static let shown = 50

    enum Action: String, Sendable {
        case replay, purge
    }

    func addRoutes(to router: HTTPRouter<ConsoleRequestContext>) {
        router.get("/dead-letters") { request, _ in try await groups(request) }
        router.get("/dead-letters/messages") { request, _ in try await messages(request) }
        router.post("/dead-letters/replay") { request, context in try await act(.replay, request, context: context) }
        router.post("/dead-letters/purge") { request, context in try await act(.purge, request, context: context) }
    }

    // MARK: Pages

    private func groups(_ request: Request) async throws -> Response {
        let session = access.session(of: request)
        let search = request.uri.queryParameters.get("q").flatMap { $0.isEmpty ? nil : $0 }
        var content = """
            <form method="get" action="/dead-letters"><label>Search by order id, product or vendor \
            <input name="q" id="search" value="\(HTML.escape(search ?? ""))"></label> <button>Search</button></form>
            """
        if let search {
            let selection = DeadLetterSelection(search: search)
            let peek = try await admin.peek(count: Self.shown, filter: selection.filter)
            let found = peek.queues.flatMap(\.messages)
            content += "<h2>Messages containing “\(HTML.escape(search))”: \(found.count)\(found.count == Self.shown ? " (the first \(Self.shown))" : "")</h2>"
            content += actions(for: selection, count: found.count, session: session)
            content += messageTable(found)
        } else {
            let byReason = try await admin.stats(groupBy: .reason)
            let byQueue = try await admin.stats(groupBy: .queue)
            content += "<h2>By failure reason</h2>"
            content += groupTable(byReason, column: "reason", session: session, empty: "No dead letters.") { key in
                (DeadLetterSelection(reason: key), "<span class=\"reason\">\(HTML.escape(key))</span>")
            }
            content += "<h2>By queue</h2>"
            content += groupTable(byQueue, column: "dead-letter queue", session: session, empty: "none") { key in
                (DeadLetterSelection(queue: key), HTML.escape(key))
            }
            content += notes(byReason.notes)
        }
        return access.page("Dead letters", for: request, content)
    }

    /// The console reads and acts on this topology's DLQs only. Any other queue on the vhost (another
    /// deployment's, a work queue) is refused: a peek takes its messages and puts them back, which on a
    /// work queue counts against its delivery limit, and its bodies are not this console's to show.
    private func checked(_ selection: DeadLetterSelection) throws -> DeadLetterSelection {
        let allowed = Set(admin.topology.deadLetterQueues)
        if let queue = selection.queues.first(where: { !allowed.contains($0) }) {
            throw ConsoleRefusal(
                status: .badRequest, title: "Not a dead-letter queue",
                message: "“\(queue)” is not one of this deployment's dead-letter queues (\(allowed.sorted().joined(separator: ", "))).")
        }
        return selection
    }

    private func messages(_ request: Request) async throws -> Response {
        let selection = try checked(DeadLetterSelection { request.uri.queryParameters.get($0).flatMap { $0.isEmpty ? nil : $0 } })
        let session = access.session(of: request)
        let peek = try await admin.peek(queues: selection.queues, count: Self.shown, filter: selection.filter)
        let found = peek.queues.flatMap(\.messages)
        var content = "<p>\(HTML.escape(selection.description)): showing \(found.count) message\(found.count == 1 ? "" : "s").</p>"
        content += actions(for: selection, count: found.count, session: session)
        for message in found {
            content += messageDetail(message, now: peek.now, session: session)
        }
        content += notes(peek.notes)
        return access.page("Dead letters: \(selection.description)", for: request, content)
    }

    // MARK: Actions

    private func act(_ action: Action, _ request: Request, context: ConsoleRequestContext) async throws -> Response {
        let form = try await FormBody.read(request)
        let session = try await access.authorize(request, form: form, context: context)
        let selection = try checked(DeadLetterSelection { form[$0] })
        guard form["step"] == "confirm", let expectedText = form["expected"], let expected = Int(expectedText), expected > 0 else {
            return try await dryRun(action, selection, request: request, session: session)
        }
        let options = TransferOptions(filter: selection.filter, limit: expected)
        let result: TransferResult
        do {
            result = switch action {
            case .replay: try await admin.replay(queues: selection.queues, options: options)
            case .purge: try await admin.purgeMatching(queues: selection.queues, options: options)
            }
        } catch {
            // Interrupted (the broker went away): what was done before is done, and the error
            // says how much ("so far …"); the log keeps that it was attempted and how it ended.
            _ = await access.audit(
                AuditEntry(
                    who: access.who(session.name, context), action: "console.\(action.rawValue)-interrupted",
                    target: try admin.queues(selection.queues).joined(separator: ","), count: 0, detail: "\(error)"))
            throw error
        }
        var content = "<p class=\"result ok\" id=\"result\">\(HTML.escape(result.summary))</p>"
        if let entry = AuditEntry.of(result, who: access.who(session.name, context), queues: try admin.queues(selection.queues)),
            let problem = await access.audit(entry)
        {
            content += "<p class=\"notice warn\">\(HTML.escape(problem))</p>"
        }
        content += failures(result)
        content += notes(result.notes)
        content += "<p><a href=\"/dead-letters\">Back to the dead letters</a></p>"
        let verb = action == .replay ? "Replayed" : "Purged"
        return access.page("\(verb): \(selection.description)", for: request, content)
    }

    /// What the action would do, and the form that does it.
    private func dryRun(_ action: Action, _ selection: DeadLetterSelection, request: Request, session: ConsoleSession) async throws -> Response {
        let options = TransferOptions(filter: selection.filter, dryRun: true)
        let result = switch action {
        case .replay: try await admin.replay(queues: selection.queues, options: options)
        case .purge: try await admin.purgeMatching(queues: selection.queues, options: options)
        }
        let which = try await admin.peek(queues: selection.queues, count: Self.shown, filter: selection.filter)
        let count = result.transferred
        // The confirmation's limit counts what the transfer loop counts: every matching message it
        // handles, also those it cannot transfer (they stay), so the confirm reaches as far as the dry run did.
        let handled = result.transferred + result.failed
        var content = "<p class=\"notice\" id=\"dry-run\">Dry run: \(HTML.escape(result.summary)).</p>"
        content += failures(result)
        content += "<h2>Which</h2>" + messageTable(which.queues.flatMap(\.messages))
        if count > 0, let csrf = access.csrf(for: session) {
            let consequence = action == .replay
                ? "Each is published back to the queue it failed in and removed from its DLQ once the broker confirmed the copy."
                : "They are deleted for good (dlq export keeps a copy first)."
            content += """
                <form method="post" action="/dead-letters/\(action.rawValue)">\
                \(HTML.hidden(selection.fields + [("csrf", csrf), ("step", "confirm"), ("expected", "\(handled)")]))
                <p>\(HTML.escape(consequence)) At most \(count) message\(count == 1 ? "" : "s") will be \(action == .replay ? "replayed" : "purged").</p>
                <button class="\(action == .replay ? "primary" : "danger")" id="confirm">\(action == .replay ? "Replay" : "Purge") \(count) \
                message\(count == 1 ? "" : "s")</button> <a href="/dead-letters">Cancel</a></form>
                """
        } else {
            content += "<p>Nothing to \(action.rawValue). <a href=\"/dead-letters\">Back</a></p>"
        }
        content += notes(result.notes)
        return access.page("\(action == .replay ? "Replay" : "Purge") \(selection.description)?", for: request, content)
    }

    // MARK: Pieces

    /// The replay and purge buttons of a group or message (they post the dry run); a hint when not signed in.
    private func actions(for selection: DeadLetterSelection, count: Int, session: ConsoleSession?) -> String {
        guard count > 0 else { return "" }
        guard let session, let csrf = access.csrf(for: session) else {
            return access.readOnly ? "" : "<span class=\"muted\">sign in to replay or purge</span>"
        }
        let fields = HTML.hidden(selection.fields + [("csrf", csrf), ("step", "dry-run")])
        return """
            <form class="inline" method="post" action="/dead-letters/replay">\(fields)<button class="replay">Replay…</button></form> \
            <form class="inline" method="post" action="/dead-letters/purge">\(fields)<button class="purge">Purge…</button></form>
            """
    }

    /// A `dlq stats` grouping as a table: each group with its count, age, peek link and actions.
    private func groupTable(
        _ stats: DeadLetterStats, column: String, session: ConsoleSession?, empty: String,
        _ group: (String) -> (selection: DeadLetterSelection, label: String)
    ) -> String {
        HTML.table(
            [column, "messages", "oldest", ""],
            stats.groups.map { entry in
                let (selection, label) = group(entry.key)
                return [
                    label, "\(entry.count)", entry.oldestAge.map(DurationText.format) ?? "-",
                    "<a href=\"/dead-letters/messages?\(HTML.escape(selection.queryString))\">peek</a> "
                        + actions(for: selection, count: entry.count, session: session),
                ]
            }, empty: empty)
    }

    private func messageTable(_ messages: [DeadLetterMessage]) -> String {
        HTML.table(
            ["queue", "message id", "reason", "original queue", "failed at", "type", "movements"],
            messages.map { message in
                let id = message.messageID.map { id in
                    "<a href=\"/dead-letters/messages?\(HTML.escape(DeadLetterSelection(queue: message.queue, messageID: id).queryString))\">\(HTML.escape(id))</a>"
                }
                return [
                    HTML.escape(message.queue), id ?? "-", HTML.escape(message.reason), HTML.escape(message.originalQueue ?? "-"),
                    HTML.escape(message.failedAt.map(MessageCoding.formatDate) ?? "-"), HTML.escape(message.delivery.properties.type ?? "-"),
                    message.movements.isEmpty ? "-" : "\(message.movements.count)",
                ]
            }, empty: "No message matches.")
    }

    /// One message: failure, properties, headers, x-death decoded, the body pretty-printed.
    private func messageDetail(_ message: DeadLetterMessage, now: Date, session: ConsoleSession?) -> String {
        let p = message.delivery.properties
        var failure: [(String, String?)] = [
            ("reason", message.reason + (message.deadLetteredByBroker ? " (dead-lettered by the broker)" : "")), ("error", message.errorMessage),
            ("retries", "\(message.retryCount)"), ("original queue", message.originalQueue),
            ("failed at", message.failedAt.map { MessageCoding.formatDate($0) + " (" + DurationText.format(now.timeIntervalSince($0)) + " ago)" }),
            ("failed by", message.failedBy),
        ]
        failure += [
            ("message_id", p.messageID), ("correlation_id", p.correlationID), ("type", p.type), ("content_type", p.contentType),
            ("timestamp", p.timestamp.map(MessageCoding.formatDate)), ("app_id", p.appID), ("redelivered", "\(message.delivery.redelivered)"),
        ]
        let headers = p.headers.keys.sorted().filter { $0 != FailureHeaders.Name.death }.map { key in
            [HTML.escape(key), HTML.escape("\(p.headers[key]!)"), HTML.escape(TypedValue.typeName(p.headers[key]!))]
        }
        let deaths = message.deaths.enumerated().map { index, death in
            [
                "\(index + 1)", HTML.escape(death.queue ?? "?"), HTML.escape(death.reason ?? "?"), death.count.map(String.init) ?? "?",
                HTML.escape(death.time.map(MessageCoding.formatDate) ?? "-"), HTML.escape(death.routingKeys.joined(separator: ", ")),
            ]
        }
        let body = DeadLetterPeek.Body(message.delivery.body, contentType: p.contentType)
        let one = message.messageID.map { DeadLetterSelection(queue: message.queue, messageID: $0) }
        return """
            <section class="message"><h2>\(HTML.escape(message.messageID ?? "(no message id)")) <span class="muted">in \(HTML.escape(message.queue))</span></h2>
            \(one.map { actions(for: $0, count: 1, session: session) } ?? "<p class=\"muted\">No message id: act on its group instead.</p>")
            \(HTML.table(["field", "value"], failure.compactMap { name, value in value.map { [HTML.escape(name), HTML.escape($0)] } }))
            <h3>Headers</h3>\(HTML.table(["header", "value", "type"], headers))
            <h3>x-death (most recent first)</h3>\(HTML.table(["#", "queue", "reason", "count", "time", "routing keys"], deaths, empty: "no x-death header"))
            \(movementTable(message.movements))
            <h3>Body (\(message.delivery.body.count) bytes, \(body.kind))</h3><pre>\(HTML.escape(body.text))</pre></section>
            """
    }

    /// The stock movements a vendor_sync message carries, each order linked to
    /// its timeline: a batch holds the movements of many orders, and replaying
    /// it applies each of them once (the vendor database dedups by movement id).
    private func movementTable(_ movements: [VendorMovement]) -> String {
        guard !movements.isEmpty else { return "" }
        let rows = movements.enumerated().map { index, movement in
            let order = UUIDText.string(movement.orderId)
            return [
                "\(index + 1)", HTML.escape(UUIDText.string(movement.movementId)), HTML.escape(movement.kind.rawValue),
                "<a href=\"/orders/\(HTML.escape(order))\">\(HTML.escape(order))</a>", HTML.escape(movement.vendorId),
                HTML.escape(movement.productId), "\(movement.quantity)",
            ]
        }
        return "<h3>Stock movements (\(movements.count))</h3>"
            + HTML.table(["#", "movement id", "kind", "order", "vendor", "product", "quantity"], rows)
    }

    private func failures(_ result: TransferResult) -> String {
        guard !result.failures.isEmpty else { return "" }
        return "<h2>Failed</h2>"
            + HTML.table(
                ["queue", "message id", "error"],
                result.failures.prefix(Self.shown).map { [HTML.escape($0.queue), HTML.escape($0.messageID ?? "-"), HTML.escape($0.error)] })
    }

    private func notes(_ notes: [String]) -> String {
        notes.map { "<p class=\"muted\">\(HTML.escape($0))</p>" }.joined()
    }
}
