import AMQP
import Admin
import Console
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Messaging
import NIOCore
import OrderCore
import TestSupport
import TextCodecs
import Testing

@Suite(.timeLimit(.minutes(3))) struct ConsoleTests {
    /// Signs in with `token`; the response and the cookie it set ("name=value"), if any.
    static func signIn(_ client: some TestClientProtocol, token: String, name: String = "tester") async throws -> (TestResponse, String?) {
        let form = "name=\(name)&token=\(token.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")"
        let response = try await client.execute(
            uri: "/sign-in", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"], body: ByteBuffer(string: form))
        let cookie = response.headers[.setCookie]?.split(separator: ";").first.map(String.init)
        return (response, cookie)
    }

    /// The CSRF token in a page's action forms.
    static func csrf(in html: String) -> String? {
        html.firstMatch(of: /name="csrf" value="([^"]+)"/).map { String($0.output.1) }
    }

    static func post(
        _ client: some TestClientProtocol, _ path: String, cookie: String?, fields: [(String, String)]
    ) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
        if let cookie { headers[.cookie] = cookie }
        let body = fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }.joined(separator: "&")
        return try await client.execute(uri: path, method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    static func get(_ client: some TestClientProtocol, _ path: String, cookie: String? = nil) async throws -> (HTTPResponse.Status, String) {
        let response = try await client.execute(uri: path, method: .get, headers: cookie.map { [.cookie: $0] } ?? [:])
        return (response.status, String(buffer: response.body))
    }

    /// Audit rows about this fixture's queues.
    static func auditRows(_ system: ConsoleFixture) throws -> [AuditEntry] {
        try TestEnvironment.withOrdersDatabase { connection in
            try AuditLog.entries(since: nil, limit: 10_000, on: connection).filter { $0.target.contains(system.prefix) }
        }
    }

    @Test func pagesRenderWithEveryValueEscaped() async throws {
        try await ConsoleFixture.with { system in
            let product = try system.product("widget", stock: ["vendorA": 7])
            let order = OrderPlaced(orderId: UUID(), lines: [OrderLine(productId: product, quantity: 1)], idempotencyKey: nil, acceptedAt: Date())
            var message = system.deadLetter(order, reason: "<b>evil</b>")
            message.body = Array(#"{"note":"<script>alert(1)</script>"}"#.utf8)
            try await system.publish([message], to: system.ordersDLQ)
            _ = try await system.waitForDepth(system.ordersDLQ, toBe: 1)
            let app = try system.console()
            try await app.test(.router) { client in
                let (status, groups) = try await Self.get(client, "/dead-letters")
                #expect(status == .ok)
                #expect(groups.contains("&lt;b&gt;evil&lt;/b&gt;"), "\(groups)")
                #expect(!groups.contains("<b>evil</b>"))
                #expect(groups.contains(system.ordersDLQ))

                let (_, peek) = try await Self.get(client, "/dead-letters/messages?queue=\(system.ordersDLQ)")
                #expect(peek.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "\(peek)")
                #expect(!peek.contains("<script>"))
                #expect(peek.contains("x-error-reason"))

                let (_, found) = try await Self.get(client, "/dead-letters?q=%3Cscript")
                #expect(found.contains("Messages containing “&lt;script”: 1"), "\(found)")

                let (_, queues) = try await Self.get(client, "/queues")
                #expect(queues.contains(system.topology.orders.main) && queues.contains(system.ordersDLQ), "\(queues)")

                let (_, stock) = try await Self.get(client, "/stock?product=\(product)")
                #expect(stock.contains("<td>\(product)</td><td>\(product)</td><td>vendorA</td><td>7</td><td>0</td><td>0</td>"), "\(stock)")

                let (missing, timeline) = try await Self.get(client, "/orders/\(order.orderId.uuidString.lowercased())")
                #expect(missing == .ok)
                #expect(timeline.contains("ordersdb has no order"), "the worker has not applied it")
                #expect(timeline.contains(system.ordersDLQ), "its dead letter is listed: \(timeline)")

                let (notAnID, _) = try await Self.get(client, "/orders/%3Cx%3E")
                #expect(notAnID == .badRequest)
            }
            #expect(try await system.waitForDepth(system.ordersDLQ, toBe: 1) == 1, "reading put every message back")
        }
    }

    /// A dead vendor_sync batch carries the movements of several orders: the
    /// console counts them in the list, shows each with a link to its order,
    /// and finds the batch by any one movement id or order id.
    @Test func aDeadVendorSyncBatchShowsEachOfItsMovementsAndIsFoundByAnyOfThem() async throws {
        try await ConsoleFixture.with { system in
            let product = try system.product("batched", stock: ["vendorA": 9])
            let movements = (1...3).map { quantity in
                VendorMovement(movementId: UUID(), orderId: UUID(), vendorId: "vendorA", productId: product, quantity: quantity)
            }
            let batch = VendorMovementBatch(vendorId: "vendorA", entries: movements.map { VendorMovementBatch.Entry($0) })
            let batchID = UUIDText.string(batch.messageId)
            let properties = FailureHeaders.failureCopy(
                of: AMQPProperties(
                    contentType: "application/json", deliveryMode: .persistent, messageID: batchID, timestamp: Date(),
                    type: VendorMovementBatch.messageType),
                retryCount: 3, reason: "vendor-unavailable", message: "vendorA's database did not answer",
                originalQueue: system.topology.vendorSync.main, failedBy: "vendor-sync-worker")
            let dlq = system.topology.vendorSync.deadLetter
            try await system.publish([(batch.encoded(), properties)], to: dlq)
            _ = try await system.waitForDepth(dlq, toBe: 1)
            try await system.console().test(.router) { client in
                let (_, list) = try await Self.get(client, "/dead-letters?q=\(product)")
                #expect(list.contains("Messages containing “\(product)”: 1"), "\(list)")
                #expect(list.contains("<td>\(VendorMovementBatch.messageType)</td><td>3</td>"), "the list counts the batch's movements: \(list)")

                let second = UUIDText.string(movements[1].movementId)
                let (status, detail) = try await Self.get(client, "/dead-letters/messages?queue=\(dlq)&id=\(second)")
                #expect(status == .ok)
                #expect(detail.contains("showing 1 message"), "a movement id finds its batch: \(detail)")
                #expect(detail.contains("Stock movements (3)"), "\(detail)")
                for movement in movements {
                    let order = UUIDText.string(movement.orderId)
                    #expect(
                        detail.contains(
                            "<td>\(UUIDText.string(movement.movementId))</td><td>allocate</td><td><a href=\"/orders/\(order)\">\(order)</a></td>"
                                + "<td>vendorA</td><td>\(product)</td><td>\(movement.quantity)</td>"), "\(detail)")
                }

                let (_, byOrder) = try await Self.get(client, "/dead-letters?q=\(UUIDText.string(movements[2].orderId))")
                #expect(byOrder.contains(": 1</h2>"), "an order id inside the batch finds it: \(byOrder)")
                let (_, other) = try await Self.get(client, "/dead-letters/messages?queue=\(dlq)&id=\(UUIDText.string(UUID()))")
                #expect(other.contains("showing 0 messages"), "\(other)")
            }
            #expect(try await system.waitForDepth(dlq, toBe: 1) == 1, "reading put the batch back")
        }
    }

    @Test func signInTakesOnlyTheTokenAndSetsAStrictCookie() async throws {
        try await ConsoleFixture.with { system in
            try await system.console().test(.router) { client in
                let (wrong, wrongCookie) = try await Self.signIn(client, token: "not-the-token")
                #expect(wrong.status == .unauthorized)
                #expect(wrongCookie == nil)

                let (right, cookie) = try await Self.signIn(client, token: ConsoleFixture.token, name: "ada")
                #expect(right.status == .seeOther)
                let setCookie = try #require(right.headers[.setCookie])
                for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="] {
                    #expect(setCookie.contains(attribute), "\(setCookie)")
                }
                let (_, page) = try await Self.get(client, "/dead-letters", cookie: cookie)
                #expect(page.contains("signed in as <b>ada</b>"), "\(page)")

                // An altered cookie is no session.
                let forged = try #require(cookie).dropLast(2) + "AA"
                let (_, anonymous) = try await Self.get(client, "/dead-letters", cookie: String(forged))
                #expect(!anonymous.contains("signed in as"))
            }
            #expect(try Self.auditRows(system).isEmpty, "a refused sign-in names no queue")
            // Without a token, nobody signs in and every action is refused.
            try await system.console(token: nil).test(.router) { client in
                let (refused, cookie) = try await Self.signIn(client, token: ConsoleFixture.token)
                #expect(refused.status == .forbidden)
                #expect(cookie == nil)
                let replay = try await Self.post(client, "/dead-letters/replay", cookie: nil, fields: [("step", "dry-run")])
                #expect(replay.status == .forbidden)
                #expect(String(buffer: replay.body).contains("no CONSOLE_TOKEN"))
            }
        }
    }

    /// A work queue, or a queue of another deployment on the vhost, is never read or acted on:
    /// a peek takes messages and puts them back, which counts against a work queue's delivery limit.
    @Test func onlyThisDeploymentsDeadLetterQueuesAreReadOrActedOn() async throws {
        try await ConsoleFixture.with { system in
            let product = try system.product("fenced", stock: ["vendorA": 5])
            let order = OrderPlaced(orderId: UUID(), lines: [OrderLine(productId: product, quantity: 1)], idempotencyKey: nil, acceptedAt: Date())
            try await system.publish([system.deadLetter(order, reason: "database-unavailable")], to: system.topology.orders.main)
            #expect(try await system.waitForDepth(system.topology.orders.main, toBe: 1) == 1)
            // A group in its own DLQ, so the page has action forms (and their CSRF token).
            _ = try await system.deadLetteredOrders(of: product, reasons: ["database-unavailable"])
            try await system.console().test(.router) { client in
                let (_, cookie) = try await Self.signIn(client, token: ConsoleFixture.token)
                for queue in [system.topology.orders.main, "another-shop.orders_dlq"] {
                    let (status, page) = try await Self.get(client, "/dead-letters/messages?queue=\(queue)", cookie: cookie)
                    #expect(status == .badRequest)
                    #expect(page.contains("is not one of this deployment"))
                }
                let (_, page) = try await Self.get(client, "/dead-letters", cookie: cookie)
                let csrf = try #require(Self.csrf(in: page))
                let replay = try await Self.post(
                    client, "/dead-letters/replay", cookie: cookie,
                    fields: [("queue", system.topology.orders.main), ("step", "confirm"), ("expected", "1"), ("csrf", csrf)])
                #expect(replay.status == .badRequest)
            }
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await system.broker.depth(of: system.topology.orders.main) == 1, "the work queue's message was not touched")
        }
    }

    @Test func aPostWithoutTheSessionsCSRFTokenChangesNothing() async throws {
        try await ConsoleFixture.with { system in
            let product = try system.product("gadget", stock: ["vendorA": 5])
            _ = try await system.deadLetteredOrders(of: product, reasons: ["database-unavailable", "database-unavailable"])
            try await system.console().test(.router) { client in
                let (_, cookie) = try await Self.signIn(client, token: ConsoleFixture.token)
                let act = [("queue", system.ordersDLQ), ("step", "confirm"), ("expected", "2")]
                let withoutCSRF = try await Self.post(client, "/dead-letters/replay", cookie: cookie, fields: act)
                #expect(withoutCSRF.status == .forbidden)
                let wrongCSRF = try await Self.post(client, "/dead-letters/purge", cookie: cookie, fields: act + [("csrf", "AAAA")])
                #expect(wrongCSRF.status == .forbidden)
                // A valid token of the page, but no session: refused too.
                let (_, page) = try await Self.get(client, "/dead-letters", cookie: cookie)
                let csrf = try #require(Self.csrf(in: page))
                let withoutSession = try await Self.post(client, "/dead-letters/purge", cookie: nil, fields: act + [("csrf", csrf)])
                #expect(withoutSession.status == .forbidden)
                // GET never acts.
                let (get, _) = try await Self.get(client, "/dead-letters/replay?queue=\(system.ordersDLQ)&step=confirm&expected=2&csrf=\(csrf)", cookie: cookie)
                #expect(get == .methodNotAllowed)
            }
            try await Task.sleep(for: .seconds(1))
            #expect(try await system.waitForDepth(system.ordersDLQ, toBe: 2) == 2, "nothing left the DLQ")
            #expect(try await system.broker.depth(of: system.topology.orders.main) == 0)
            let refusals = try TestEnvironment.withOrdersDatabase { connection in
                try AuditLog.entries(since: Date().addingTimeInterval(-120), limit: 10_000, on: connection).filter { $0.action == "console.csrf-refused" }
            }
            #expect(refusals.count >= 2, "refused attempts are audited")
        }
    }

    @Test func replayOfAGroupMovesExactlyThoseMessagesAndIsAudited() async throws {
        try await ConsoleFixture.with { system in
            let product = try system.product("gizmo", stock: ["vendorA": 5])
            _ = try await system.deadLetteredOrders(of: product, reasons: ["lock-timeout", "database-unavailable", "lock-timeout"])
            try await system.console().test(.router) { client in
                let (_, cookie) = try await Self.signIn(client, token: ConsoleFixture.token, name: "grace")
                let (_, page) = try await Self.get(client, "/dead-letters", cookie: cookie)
                let csrf = try #require(Self.csrf(in: page))
                let group = [("reason", "lock-timeout"), ("csrf", csrf)]

                let dryRun = try await Self.post(client, "/dead-letters/replay", cookie: cookie, fields: group + [("step", "dry-run")])
                let dryPage = String(buffer: dryRun.body)
                #expect(dryRun.status == .ok)
                #expect(dryPage.contains("dry run: would replay 2, skipped 1, failed 0"), "\(dryPage)")
                #expect(dryPage.contains("name=\"expected\" value=\"2\""))
                #expect(try await system.waitForDepth(system.ordersDLQ, toBe: 3) == 3, "the dry run changed nothing")
                #expect(try Self.auditRows(system).isEmpty, "a dry run is not audited")

                let replay = try await Self.post(client, "/dead-letters/replay", cookie: cookie, fields: group + [("step", "confirm"), ("expected", "2")])
                #expect(String(buffer: replay.body).contains("replayed 2, skipped 1, failed 0"), "\(String(buffer: replay.body))")
            }
            #expect(try await system.waitForDepth(system.topology.orders.main, toBe: 2) == 2)
            #expect(try await system.waitForDepth(system.ordersDLQ, toBe: 1) == 1)
            let rows = try Self.auditRows(system)
            #expect(rows.count == 1, "\(rows)")
            let row = try #require(rows.first)
            #expect(row.action == "dlq.replay" && row.count == 2 && row.who.hasPrefix("console:grace"), "\(row)")
            #expect(row.target.contains("reason lock-timeout"), "\(row)")

            // orderctl audit prints it.
            let audit = try Command.run(
                try ChildProcess.executable("orderctl").path, ["audit", "--since", "10m", "--limit", "1000", "--output", "json"],
                environment: TestEnvironment.processEnvironment)
            #expect(audit.status == 0, "\(audit.stderr)")
            let printed = try #require(try JSONSerialization.jsonObject(with: Data(audit.stdout.utf8)) as? [[String: Any]])
            let mine = printed.filter { ($0["target"] as? String)?.contains(system.prefix) == true }
            #expect(mine.count == 1, "\(audit.stdout)")
            #expect(mine.first?["count"] as? Int == 2 && mine.first?["action"] as? String == "dlq.replay")
            let table = try Command.run(
                try ChildProcess.executable("orderctl").path, ["audit", "--limit", "1000"], environment: TestEnvironment.processEnvironment)
            #expect(table.stdout.contains("console:grace") && table.stdout.contains("AT  "), "\(table.stdout)")
        }
    }

    @Test func purgeShowsADryRunFirstAndThenRemovesOnlyTheMessageChosen() async throws {
        try await ConsoleFixture.with { system in
            let product = try system.product("doohickey", stock: ["vendorB": 5])
            let orders = try await system.deadLetteredOrders(of: product, reasons: ["database-unavailable", "database-unavailable"])
            let chosen = orders[0].orderId.uuidString.lowercased()
            try await system.console().test(.router) { client in
                let (_, cookie) = try await Self.signIn(client, token: ConsoleFixture.token)
                let (_, page) = try await Self.get(client, "/dead-letters/messages?queue=\(system.ordersDLQ)&id=\(chosen)", cookie: cookie)
                let csrf = try #require(Self.csrf(in: page))
                let one = [("queue", system.ordersDLQ), ("id", chosen), ("csrf", csrf)]
                let dryRun = try await Self.post(client, "/dead-letters/purge", cookie: cookie, fields: one + [("step", "dry-run")])
                #expect(String(buffer: dryRun.body).contains("dry run: would purge 1, skipped 1, failed 0"), "\(String(buffer: dryRun.body))")
                #expect(try await system.waitForDepth(system.ordersDLQ, toBe: 2) == 2, "the dry run purged nothing")
                #expect(try Self.auditRows(system).isEmpty)

                let purge = try await Self.post(client, "/dead-letters/purge", cookie: cookie, fields: one + [("step", "confirm"), ("expected", "1")])
                // At most the one message the dry run counted: the run stops once it is purged.
                #expect(String(buffer: purge.body).contains("purged 1, skipped 0, failed 0"), "\(String(buffer: purge.body))")
            }
            #expect(try await system.waitForDepth(system.ordersDLQ, toBe: 1) == 1)
            let left = try await system.broker.drain(system.ordersDLQ)
            #expect(left.map(\.properties.messageID) == [orders[1].orderId.uuidString.lowercased()])
            let rows = try Self.auditRows(system)
            #expect(rows.map(\.action) == ["dlq.purge"] && rows.first?.count == 1, "\(rows)")
        }
    }
}
