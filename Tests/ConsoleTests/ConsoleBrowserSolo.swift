import Foundation
import Hummingbird
import HummingbirdTesting
import OrderCore
import TestSupport
import Testing

/// The console in a real browser (headless Chromium driven by Selenium, from
/// scripts/services): a dead-letter group made here is replayed through the
/// page's confirmation step, the order worker applies the order, and the
/// order's timeline page shows it. Browsers are slow and heavy on a loaded
/// machine, so this runs alone in scripts/test's second phase (CHAOS_TESTS=1);
/// CONSOLE_BROWSER_TESTS=1 runs it by hand.
@Suite(
    .serialized, .timeLimit(.minutes(5)),
    .enabled(
        if: LocalServices.chaosEnabled || ProcessInfo.processInfo.environment["CONSOLE_BROWSER_TESTS"] == "1",
        "a real browser: run alone by scripts/test"))
struct ConsoleBrowserSolo {
    static var stateDirectory: URL {
        ProcessInfo.processInfo.environment["ORDERS_STATE_DIR"].map { URL(fileURLWithPath: $0) }
            ?? TestEnvironment.repositoryRoot.appendingPathComponent(".local")
    }
    static var artefacts: URL { stateDirectory.appendingPathComponent("artefacts/console") }

    /// Runs the Selenium script on a thread of its own (it blocks for seconds while the console answers it).
    static func browser(_ arguments: [String]) async throws -> Command.Output {
        let python = stateDirectory.appendingPathComponent("selenium/venv/bin/python").path
        let script = TestEnvironment.repositoryRoot.appendingPathComponent("Tests/ConsoleTests/browser/console_replay.py").path
        try #require(FileManager.default.isExecutableFile(atPath: python), "no Selenium at \(python): scripts/services install puts it there")
        let environment = ["ORDERS_STATE_DIR": stateDirectory.path]
        let outcome = await onThreads(1) { _ in
            Result { try Command.run(python, [script] + arguments + ["--artefacts", artefacts.path], environment: environment) }
        }
        return try outcome[0].get()
    }

    @Test func anOperatorReplaysADeadLetterGroupAndSeesTheOrderComplete() async throws {
        try await ConsoleFixture.with { system in
            let product = try system.product("browser-widget", stock: ["vendorA": 5])
            let order = OrderPlaced(orderId: UUID(), lines: [OrderLine(productId: product, quantity: 2)], idempotencyKey: nil, acceptedAt: Date())
            let id = order.orderId.uuidString.lowercased()
            try await system.publish([system.deadLetter(order, reason: "database-unavailable")], to: system.ordersDLQ)
            #expect(try await system.waitForDepth(system.ordersDLQ, toBe: 1) == 1)

            try await system.console().test(.live) { client in
                let url = "http://127.0.0.1:\(try #require(client.port))"
                // CONSOLE_SCREENSHOT=PATH also saves the signed-in dead-letter page there (docs/console.png).
                var replayArguments = ["replay", "--url", url, "--token", ConsoleFixture.token, "--order-id", id, "--reason", "database-unavailable"]
                if let screenshot = ProcessInfo.processInfo.environment["CONSOLE_SCREENSHOT"] { replayArguments += ["--screenshot", screenshot] }
                let replay = try await Self.browser(replayArguments)
                try #require(
                    replay.status == 0,
                    "the browser's replay failed (screenshot and page source in \(Self.artefacts.path)): \(replay.stdout)\(replay.stderr)")
                #expect(replay.stdout.contains("replay: replayed 1,"), "\(replay.stdout)")
                #expect(try await system.waitForDepth(system.ordersDLQ, toBe: 0) == 0, "the group left the DLQ")

                let status = try await system.withWorker { try await system.waitForOrder(order.orderId, in: ["CONFIRMED"]) }
                #expect(status == "CONFIRMED", "the replayed order was applied")
                #expect(try TestEnvironment.stock(of: product) == ["vendorA": 3])

                let timeline = try await Self.browser(["timeline", "--url", url, "--order-id", id, "--expect-status", "CONFIRMED", "--timeout", "30"])
                #expect(
                    timeline.status == 0,
                    "the browser did not see the order's timeline (screenshot and page source in \(Self.artefacts.path)): \(timeline.stdout)\(timeline.stderr)")
            }
        }
    }
}
