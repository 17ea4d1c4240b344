import Foundation
import TestSupport
import Testing

/// A real Prometheus (`/usr/bin/prometheus`, Debian's) scraping every daemon
/// started as a child process from `.build/debug/`, asked through its HTTP API
/// whether every target is up and every metric family is there. It restarts no
/// broker or database; it runs alone (scripts/test's second phase) because
/// stock-sync syncs every product of the test databases and channel-sync pushes
/// every mapped one, which other tests must not see happen under them.
@Suite(.serialized, .timeLimit(.minutes(5)), .enabled(if: LocalServices.chaosEnabled, "starts every daemon: run alone by scripts/test"))
struct MetricsScrapeSoloTests {
    /// The families each daemon must show, by job (histograms by their base name).
    static let families: [String: Set<String>] = {
        let http: Set<String> = ["http_server_requests_total", "http_server_request_duration_seconds"]
        let worker: Set<String> = [
            "worker_window_size", "worker_window_seconds", "worker_messages_total", "broker_queue_messages", "broker_queue_consumers",
        ]
        return [
            "order-api": http.union(["orders_accepted_total", "orders_rejected_total", "amqp_publish_confirm_seconds"]),
            "order-worker": http.union(worker).union([
                "orders_applied_total", "worker_dead_letters_total", "amqp_publish_confirm_seconds", "reservations_held",
                "reservations_expired_total", "reservation_release_failures_total", "outbox_relay_published_total",
            ]),
            "vendor-sync-worker": http.union(worker).union(["vendor_movements_applied_total"]),
            "payment-worker": http.union(worker).union(["circuit_breaker_state"]),
            "fulfilment-worker": http.union(worker).union(["circuit_breaker_state"]),
            "channel-sync": http.union(["circuit_breaker_state"]),
            "order-console": http,
            "stock-sync": http.union([
                "stock_sync_runs_total", "stock_sync_unapplied_units", "stock_sync_last_success_timestamp_seconds",
            ]),
        ]
    }()

    @Test func prometheusScrapesEveryDaemonAndFindsEveryFamily() async throws {
        try await OrderSystemFixture.with { system in
            let product = try system.product("scraped", stock: ["vendorA": 5])
            // The warehouse and Shopify of fulfilment-worker and channel-sync: any answer will do.
            let standIn = StandInServer()
            try await standIn.start()
            do {
                try await scrapeEveryDaemon(system, product: product, standIn: standIn)
            } catch {
                await standIn.stop()
                throw error
            }
            await standIn.stop()
        }
    }

    private func scrapeEveryDaemon(_ system: OrderSystemFixture, product: String, standIn: StandInServer) async throws {
        // Each daemon's metrics port, and the variable that sets it.
        let portVariables = [
            "order-api": "HTTP_PORT", "order-worker": "METRICS_PORT", "vendor-sync-worker": "METRICS_PORT",
            "payment-worker": "METRICS_PORT", "fulfilment-worker": "FULFILMENT_HTTP_PORT", "channel-sync": "METRICS_PORT",
            "stock-sync": "STOCK_SYNC_HTTP_PORT", "order-console": "CONSOLE_HTTP_PORT",
        ]
        var ports: [String: Int] = [:]
        for name in portVariables.keys { ports[name] = try await StandInServer.freePort() }
        let shared = system.environment.merging([
            "LOG_LEVEL": "info", "WMS_URL": standIn.url, "SHOPIFY_ADMIN_URL": standIn.url, "SHOPIFY_SHOP_DOMAIN": "scrape-test.myshopify.com",
            "STOCK_SYNC_INTERVAL_SECONDS": "1", "SWEEPER_INTERVAL_SECONDS": "1",
        ]) { $1 }
        var daemons: [String: ChildProcess] = [:]
        defer { for daemon in daemons.values { daemon.kill(SIGKILL) } }
        for (name, variable) in portVariables {
            daemons[name] = try ChildProcess(name, environment: shared.merging([variable: "\(ports[name]!)"]) { $1 })
        }
        for (name, daemon) in daemons {
            #expect(await daemon.waitForLog(containing: "\"starting\""), "\(name): \(daemon.log)")
        }

        // Something to count: an accepted order (applied, then moved at its vendor), a rejected one, a poison message.
        let api = "http://127.0.0.1:\(ports["order-api"]!)"
        #expect(try Self.post("\(api)/order", #"{"productId":"\#(product)","quantity":1}"#).status == 202)
        #expect(try Self.post("\(api)/order", #"{"productId":"\#(product)","quantity":0}"#).status == 400)
        try await system.publishRaw(Array("not an order".utf8), messageID: "scrape-poison")

        let prometheus = try PrometheusProcess(port: try await StandInServer.freePort(), targets: ports.mapValues { "127.0.0.1:\($0)" })
        defer { prometheus.stop() }
        var missing: [String: Set<String>] = [:]
        var down: [String] = []
        // The depth poller's first round can run before both of the worker's consumers are there; its next one is 15 s later.
        let consumers = #"sum(broker_queue_consumers{job="order-worker",queue="\#(system.topology.orders.main)"})"#
        var consuming: Double?
        let deadline = ContinuousClock.now + .seconds(90)
        repeat {
            try await Task.sleep(for: .seconds(1))
            down = try prometheus.targetsNotUp(expected: Set(ports.keys))
            missing = [:]
            for (job, expected) in Self.families {
                let found = try prometheus.families(job: job)
                let absent = expected.subtracting(found)
                if !absent.isEmpty { missing[job] = absent }
            }
            consuming = try prometheus.query(consumers)
        } while (!down.isEmpty || !missing.isEmpty || (consuming ?? 0) < 2) && ContinuousClock.now < deadline
        #expect(down.isEmpty, "targets not up: \(down)")
        #expect(missing.isEmpty, "families missing: \(missing)")
        #expect(try prometheus.query(#"sum(orders_accepted_total{job="order-api",channel="api"})"#) == 1)
        #expect(try prometheus.query(#"sum(orders_rejected_total{job="order-api",reason="invalid-request"})"#) == 1)
        #expect(try prometheus.query(#"sum(worker_dead_letters_total{job="order-worker",queue="\#(system.topology.orders.main)"})"#) == 1)
        #expect(consuming == 2, "order-worker's two consume loops, as the broker counts them")

        for (name, daemon) in daemons {
            daemon.kill(SIGTERM)
            #expect(await daemon.waitForExit() == 0, "\(name) stops gracefully: \(daemon.log.suffix(2000))")
        }
    }

    static func post(_ url: String, _ json: String) throws -> (status: Int, body: String) {
        let output = try Command.run(
            "/usr/bin/curl", ["-s", "-m", "10", "-w", "\n%{http_code}", "-H", "Content-Type: application/json", "--data-binary", json, url])
        let lines = output.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }
}

/// Prometheus on loopback (`port`) with a storage directory of its own,
/// scraping `targets` (job name → address) every second.
final class PrometheusProcess: @unchecked Sendable {
    let process = Process()
    let directory: URL
    let address: String

    init(port: Int, targets: [String: String]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(TestEnvironment.uniqueName("prometheus"))
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let jobs = targets.sorted { $0.key < $1.key }.map { job, target in
            "  - job_name: \(job)\n    static_configs:\n      - targets: ['\(target)']\n"
        }.joined()
        let configuration = "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n" + jobs
        let configFile = directory.appendingPathComponent("prometheus.yml")
        try configuration.write(to: configFile, atomically: true, encoding: .utf8)
        address = "127.0.0.1:\(port)"
        process.executableURL = URL(fileURLWithPath: "/usr/bin/prometheus")
        process.arguments = [
            "--config.file=\(configFile.path)", "--storage.tsdb.path=\(directory.appendingPathComponent("data").path)",
            "--web.listen-address=\(address)",
        ]
        let log = directory.appendingPathComponent("prometheus.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try ProcessSpawning.run(process)
    }

    func stop() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: directory)
    }

    /// The jobs among `expected` whose target is not up (all of them while Prometheus is not answering yet).
    func targetsNotUp(expected: Set<String>) throws -> [String] {
        guard let data = try get("/api/v1/targets"), let json = data["data"] as? [String: Any],
            let active = json["activeTargets"] as? [[String: Any]]
        else { return expected.sorted() }
        let up = Set(active.filter { $0["health"] as? String == "up" }.compactMap { ($0["labels"] as? [String: Any])?["job"] as? String })
        return expected.subtracting(up).sorted()
    }

    /// The metric families a job's target has shown (histograms by their base name).
    func families(job: String) throws -> Set<String> {
        guard let data = try get("/api/v1/label/__name__/values", ["match[]": #"{job="\#(job)"}"#]),
            let names = data["data"] as? [String]
        else { return [] }
        return Set(names.map(MetricsText.family(of:)))
    }

    /// The value of an instant query that answers one sample; nil when it answers none.
    func query(_ promQL: String) throws -> Double? {
        guard let data = try get("/api/v1/query", ["query": promQL]), let json = data["data"] as? [String: Any],
            let result = json["result"] as? [[String: Any]], let value = result.first?["value"] as? [Any], value.count == 2,
            let text = value[1] as? String
        else { return nil }
        return Double(text)
    }

    private func get(_ path: String, _ parameters: [String: String] = [:]) throws -> [String: Any]? {
        var arguments = ["-s", "-m", "5", "-G", "http://\(address)\(path)"]
        for (name, value) in parameters { arguments += ["--data-urlencode", "\(name)=\(value)"] }
        let output = try Command.run("/usr/bin/curl", arguments)
        return (try? JSONSerialization.jsonObject(with: Data(output.stdout.utf8))) as? [String: Any]
    }
}
