import Foundation
import Testing
import TestSupport
import Yams

/// monitoring/: the alert rules and the scrape configuration, checked by
/// Prometheus's own promtool (Debian's `prometheus` package, which
/// scripts/services installs), and their unit tests run by it.
@Suite("Monitoring")
struct MonitoringTests {
    static let promtool = "/usr/bin/promtool"
    static var directory: String { TestEnvironment.repositoryRoot.appendingPathComponent("monitoring").path }

    /// `promtool COMMAND… monitoring/FILE` (it resolves rule_files relative to the file that names them).
    private func promtool(_ command: String..., file: String) throws -> Command.Output {
        try #require(FileManager.default.isExecutableFile(atPath: Self.promtool), "promtool is missing: run scripts/services install")
        return try Command.run(Self.promtool, command + ["\(Self.directory)/\(file)"])
    }

    @Test func theAlertRulesAreValid() throws {
        let output = try promtool("check", "rules", file: "alerts.yml")
        #expect(output.status == 0, "\(output.stdout)\(output.stderr)")
        #expect(output.stdout.contains("SUCCESS"))
    }

    @Test func theScrapeConfigurationIsValidAndLoadsTheRules() throws {
        let output = try promtool("check", "config", file: "prometheus.yml")
        #expect(output.status == 0, "\(output.stdout)\(output.stderr)")
        #expect(output.stdout.contains("1 rule files found"))
    }

    @Test func theAlertRulesPassTheirUnitTests() throws {
        let output = try promtool("test", "rules", file: "alerts.test.yml")
        #expect(output.status == 0, "\(output.stdout)\(output.stderr)")
        #expect(output.stdout.contains("SUCCESS"))
        #expect(!output.stdout.contains("FAILED"))
    }

    /// A rule without a test that expects it to fire could be dead (a metric
    /// name misspelt, a label that never matches) and nobody would know.
    @Test func everyAlertHasATestThatExpectsItToFire() throws {
        let rules = try Self.yaml("alerts.yml")
        let alerts = Set(((rules["groups"] as? [[String: Any]]) ?? []).flatMap { group in
            ((group["rules"] as? [[String: Any]]) ?? []).compactMap { $0["alert"] as? String }
        })
        #expect(alerts.count >= 10)
        let tests = try Self.yaml("alerts.test.yml")
        var firing: Set<String> = []
        for test in (tests["tests"] as? [[String: Any]]) ?? [] {
            for check in (test["alert_rule_test"] as? [[String: Any]]) ?? [] {
                if let name = check["alertname"] as? String, !((check["exp_alerts"] as? [Any]) ?? []).isEmpty { firing.insert(name) }
            }
        }
        #expect(alerts.subtracting(firing).isEmpty, "alerts no test expects to fire: \(alerts.subtracting(firing).sorted())")
    }

    /// A rule over a metric no daemon makes never fires: every family an
    /// expression names is spelt, as a string, somewhere in Sources (where a
    /// metric is made, or where a library's name is mapped to ours).
    @Test func everyMetricTheRulesUseIsMadeBySomeDaemon() throws {
        let rules = try Self.yaml("alerts.yml")
        let expressions = ((rules["groups"] as? [[String: Any]]) ?? []).flatMap { group in
            ((group["rules"] as? [[String: Any]]) ?? []).compactMap { $0["expr"] as? String }
        }
        // Label matchers and grouping lists hold label names, not families; what is left
        // with an underscore is a family or a function.
        let families = Set(expressions.flatMap { expression in
            expression.replacing(/\{[^}]*\}/, with: "").replacing(/\b(by|on|without|ignoring)\s*\([^)]*\)/, with: "")
                .matches(of: /\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b/).map { String($0.output).replacing(/_(bucket|count|sum)$/, with: "") }
        }).subtracting(["histogram_quantile", "max_over_time", "min_over_time", "avg_over_time"])
        #expect(families.count >= 10, "\(families.sorted())")
        let sources = try Self.swiftSources()
        for family in families.sorted() {
            let made = sources.contains("\"\(family)\"")
            #expect(made, "no daemon makes \(family), which monitoring/alerts.yml uses")
        }
    }

    static func swiftSources() throws -> String {
        let root = TestEnvironment.repositoryRoot.appendingPathComponent("Sources")
        let files = try #require(FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil))
        var text = ""
        for case let file as URL in files where file.pathExtension == "swift" {
            text += try String(contentsOf: file, encoding: .utf8)
        }
        return text
    }

    /// Every daemon the scrape configuration names is one of ours, at the port it serves metrics on by default.
    @Test func theScrapeConfigurationNamesEveryDaemon() throws {
        let configuration = try Self.yaml("prometheus.yml")
        let jobs = ((configuration["scrape_configs"] as? [[String: Any]]) ?? []).compactMap { $0["job_name"] as? String }
        #expect(Set(jobs) == Set(ComposeTests.daemons))
    }

    static func yaml(_ name: String) throws -> [String: Any] {
        let text = try String(contentsOfFile: "\(directory)/\(name)", encoding: .utf8)
        return try #require(try Yams.load(yaml: text) as? [String: Any])
    }
}
