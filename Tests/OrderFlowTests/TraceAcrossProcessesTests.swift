import Foundation
import ServiceSupport
import TestSupport
import Testing
import W3CTraceContext

/// Issue 17's must-show (2): one order's trace id in the log lines of
/// order-api, order-worker and vendor-sync-worker, each a real process (the
/// executables in `.build/debug/`) on this test's own queues.
@Suite(.timeLimit(.minutes(3))) struct TraceAcrossProcessesTests {
    @Test func oneOrdersTraceIdIsInTheLogsOfTheAPITheWorkerAndVendorSync() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.vendorProduct("trace-logs", stock: ["vendorA": 10])
            // The worker's per-order lines are at debug level (at info it logs one line per window).
            let environment = system.environment.merging(["LOG_LEVEL": "debug"]) { $1 }
            let api = try ChildProcess("order-api", environment: environment.merging(["HTTP_PORT": "0"]) { $1 })
            let worker = try ChildProcess("order-worker", environment: environment)
            let vendorSync = try ChildProcess("vendor-sync-worker", environment: environment)
            defer { for process in [api, worker, vendorSync] { process.kill(SIGKILL) } }
            #expect(await worker.waitForLog(containing: "consuming"), "\(worker.log.suffix(2000))")
            #expect(await vendorSync.waitForLog(containing: "consuming"), "\(vendorSync.log.suffix(2000))")
            let listening = "Server started and listening on 127.0.0.1:"
            #expect(await api.waitForLog(containing: listening), "\(api.log.suffix(2000))")
            let announced = Self.lines(of: api).lazy.compactMap { $0["msg"] as? String }.first { $0.hasPrefix(listening) }
            let port = try #require(announced.flatMap { Int($0.dropFirst(listening.count)) }, "order-api's port (HTTP_PORT 0)")

            // With a known traceparent: the trace goes on from it.
            let known = TraceContext.newTrace()
            let withTrace = try Self.postOrder(product, port: port, traceparent: known.traceParentHeaderValue)
            #expect(withTrace.status == 202, "\(withTrace)")
            #expect(withTrace.trace?.traceID == known.traceID, "the answer names a span of the client's trace")

            // Without one: the answer names the new trace.
            let withoutTrace = try Self.postOrder(product, port: port, traceparent: nil)
            #expect(withoutTrace.status == 202, "\(withoutTrace)")
            let started = try #require(withoutTrace.trace, "the answer names the trace it started")
            #expect(started.traceID != known.traceID)

            // Both movements applied at the vendor, and their lines written.
            let deadline = ContinuousClock.now + .seconds(60)
            while try system.appliedMovements("vendorA", product).count < 2 || !vendorSync.log.contains(withoutTrace.orderId), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(try system.appliedMovements("vendorA", product).count == 2, "both orders' movements applied")

            for (order, trace) in [(withTrace.orderId, known.traceID.description), (withoutTrace.orderId, started.traceID.description)] {
                for process in [api, worker, vendorSync] {
                    let lines = Self.lines(of: process).filter { $0[LogKey.orderId] as? String == order }
                    #expect(!lines.isEmpty, "\(process.process.executableURL?.lastPathComponent ?? "") logs order \(order)")
                    #expect(
                        lines.contains { $0[LogKey.traceId] as? String == trace },
                        "\(process.process.executableURL?.lastPathComponent ?? "") logs order \(order) with trace \(trace): \(lines)")
                    // Every line about the order names its trace, none another one.
                    #expect(lines.allSatisfy { ($0[LogKey.traceId] as? String).map { $0 == trace } ?? true }, "\(lines)")
                }
            }
            #expect(Self.lines(of: worker).contains { $0["msg"] as? String == "order applied" && $0[LogKey.orderId] as? String == withoutTrace.orderId })
            #expect(Self.lines(of: vendorSync).contains { $0["msg"] as? String == "movement synced" && $0[LogKey.traceId] as? String == started.traceID.description })
            for process in [api, worker, vendorSync] {
                process.kill(SIGTERM)
                #expect(await process.waitForExit() == 0, "\(process.log.suffix(1000))")
            }
        }
    }

    /// The JSON log lines a process wrote so far.
    static func lines(of process: ChildProcess) -> [[String: Any]] {
        process.log.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }
    }

    struct Answer: CustomStringConvertible {
        let status: Int
        let orderId: String
        let trace: TraceContext?
        let description: String
    }

    /// `POST /order` with curl (a real HTTP client against the real process).
    static func postOrder(_ product: String, port: Int, traceparent: String?) throws -> Answer {
        var arguments = [
            "-s", "-m", "10", "-D", "-", "-H", "Content-Type: application/json", "-d", #"{"productId":"\#(product)","quantity":1}"#,
        ]
        if let traceparent { arguments += ["-H", "traceparent: \(traceparent)"] }
        let output = try Command.run("/usr/bin/curl", arguments + ["http://127.0.0.1:\(port)/order"]).stdout
        let lines = output.split(whereSeparator: \.isNewline)
        let status = lines.first.flatMap { $0.split(separator: " ").dropFirst().first }.flatMap { Int($0) } ?? 0
        let header = lines.first { $0.lowercased().hasPrefix("traceparent:") }.map { $0.dropFirst("traceparent:".count).trimmingCharacters(in: .whitespaces) }
        let body = lines.last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } as? [String: Any]
        return Answer(
            status: status, orderId: body?["orderId"] as? String ?? "", trace: header.flatMap { TraceContext(traceparent: $0) }, description: output)
    }
}
