import AMQP
import Admin
import Foundation
import OrderCore
import Synchronization
import TestSupport
import Testing

/// Replays with the broker killed part way. It stops the shared RabbitMQ, so
/// scripts/test runs it in the chaos phase (CHAOS_TESTS=1, `--filter ChaosTests`).
@Suite(.serialized, .enabled(if: LocalServices.chaosEnabled, "stops the shared broker: run by scripts/test in its own phase"), .timeLimit(.minutes(10)))
struct ChaosTestsDLQReplay {
    @Test func replayingAThousandMessagesLosesNoneAndAppliesNoneTwiceWhenTheBrokerDiesPartWay() async throws {
        try await LocalServices.waitForQuorumQueues()  // an earlier chaos test may have just restarted it
        // scripts/services must find the broker that is running (a worktree points ORDERS_STATE_DIR at the main checkout's).
        let state = ProcessInfo.processInfo.environment["ORDERS_STATE_DIR"].map { URL(fileURLWithPath: $0) }
            ?? TestEnvironment.repositoryRoot.appendingPathComponent(".local")
        try #require(
            FileManager.default.fileExists(atPath: state.appendingPathComponent("rabbitmq/mnesia").path),
            "no broker state under \(state.path): set ORDERS_STATE_DIR to the .local of the checkout that started the services")
        try await DLQFixture.with { system in
            let single = try system.product("chaos-single", stock: ["vendorA": 10_000])
            let split = try system.product("chaos-split", stock: ["vendorA": 2_000, "vendorB": 2_000])
            let orders = (0..<1000).map { index in
                var lines = [OrderLine(productId: single, quantity: 1 + index % 3)]
                if index % 2 == 0 { lines.append(OrderLine(productId: split, quantity: 1 + index % 2)) }
                return OrderPlaced(orderId: UUID(), lines: lines, idempotencyKey: nil, acceptedAt: Date())
            }
            let ids = orders.map(\.orderId)
            // As the worker leaves them when the database was down for every retry.
            try await system.publish(orders.map { system.deadLettered(DLQFixture.orderMessage($0), retries: 3) }, to: system.ordersDLQ)
            #expect(try await system.depth(system.ordersDLQ) == 1000)

            let stillToDo = try await system.withWorker { () async throws -> Int in
                // First replay, paced, with the broker stopped once a few hundred are back in orders_queue.
                let replayed = Mutex(0)
                let finished = Mutex(false)
                let killer = Task {
                    while replayed.withLock({ $0 }) < 300 {
                        if finished.withLock({ $0 }) { return }  // it never got that far: the expectations below say so
                        try await Task.sleep(for: .milliseconds(20))
                    }
                    try await Self.onThread { try LocalServices.stop(.rabbitmq) }
                    try await Task.sleep(for: .seconds(2))
                    try await Self.onThread { try LocalServices.start(.rabbitmq) }
                    try await LocalServices.waitForQuorumQueues()
                }
                var firstError: AdminError?
                do {
                    let result = try await system.admin.replay(options: TransferOptions(rate: 60)) { progress in
                        replayed.withLock { $0 = progress.transferred }
                    }
                    Issue.record("the first replay finished before the broker stopped: \(result.summary)")
                } catch let error as AdminError {
                    firstError = error
                } catch {
                    finished.withLock { $0 = true }
                    _ = try? await killer.value
                    try? await Self.onThread { try LocalServices.start(.rabbitmq) }
                    throw error
                }
                finished.withLock { $0 = true }
                try await killer.value
                #expect(firstError?.exitCode == ExitStatus.brokerUnavailable, "\(firstError?.message ?? "")")
                #expect(firstError?.message.contains("run it again") == true)
                let firstCount = replayed.withLock { $0 }
                #expect(firstCount >= 300 && firstCount < 1000, "the broker died part way: \(firstCount) replayed first")

                // The broker is back: replay what is left.
                try await system.reconnectBroker()
                let second = try await Self.replayWhenTheBrokerAnswers(system)
                #expect(second.failed == 0 && second.skipped == 0)
                #expect(try await system.depth(system.ordersDLQ) == 0)

                let statuses = try await system.waitForOrders(ids, timeout: .seconds(240))
                #expect(statuses.count == 1000)
                _ = try await system.waitForDepth(system.topology.orders.main, toBe: 0, timeout: .seconds(60))
                return 1000 - statuses.count
            }
            #expect(stillToDo == 0)

            // Every message is processed or still in the DLQ: counts add up.
            let (rows, statuses) = try system.orderRows(ids)
            let inDLQ = Set(try await system.drain(system.ordersDLQ).compactMap { $0.properties.messageID.flatMap(UUID.init(uuidString:)) })
            #expect(rows == statuses.count, "one row per order id")
            #expect(Set(statuses.keys).isDisjoint(with: inDLQ))
            #expect(statuses.count + inDLQ.count == orders.count, "none lost: \(statuses.count) processed + \(inDLQ.count) in the DLQ")
            #expect(statuses.values.allSatisfy { $0 == "CONFIRMED" })

            // None applied twice: stock and allocations are exactly what each confirmed order took, once.
            let confirmed = orders.filter { statuses[$0.orderId] == "CONFIRMED" }
            func ordered(_ product: String) -> Int {
                confirmed.reduce(0) { $0 + $1.lines.filter { $0.productId == product }.reduce(0) { $0 + $1.quantity } }
            }
            #expect(try system.stock(of: single) == ["vendorA": 10_000 - ordered(single)])
            let splitStock = try system.stock(of: split)
            #expect(splitStock.values.reduce(0, +) == 4_000 - ordered(split))
            #expect(try system.allocatedQuantity(confirmed.map(\.orderId)) == ordered(single) + ordered(split))
            #expect(try await system.depth(system.topology.orders.main) == 0)
        }
        try? await Self.onThread { try LocalServices.start(.rabbitmq) }
        try? await LocalServices.waitForQuorumQueues()
    }

    /// Runs a blocking call (scripts/services) on a thread of its own, off the cooperative pool.
    static func onThread(_ body: @escaping @Sendable () throws -> Void) async throws {
        let result = await onThreads(1) { _ in Result { try body() } }
        try result[0].get()
    }

    /// The queues of a restarted broker can take a moment to answer: retry while it is unreachable.
    static func replayWhenTheBrokerAnswers(_ system: DLQFixture) async throws -> TransferResult {
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            do {
                return try await system.admin.replay(options: TransferOptions())
            } catch let error as AdminError where error.exitCode == ExitStatus.brokerUnavailable && ContinuousClock.now < deadline {
                try await Task.sleep(for: .seconds(1))
            }
        }
    }
}
