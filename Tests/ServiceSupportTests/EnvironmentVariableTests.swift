import Foundation
import Logging
import ServiceSupport
import Testing

@Suite struct EnvironmentVariableTests {
    static let typos: [(String, EnvironmentVariable)] = [
        ("WORKER_PREFECH", .workerPrefetch), ("DATABSE_URL", .databaseURL), ("LOG_LEVLE", .logLevel),
        ("worker_prefetch", .workerPrefetch), ("AMQP_URI", .amqpURL), ("VENDOR_SYNC_BATCHSIZE", .vendorSyncBatchSize),
        ("STOCK_API_TOKENS", .stockAPIToken),
    ]

    @Test(arguments: EnvironmentVariableTests.typos)
    func aNameWithinTwoEditsOfAKnownOneIsTakenForIt(name: String, known: EnvironmentVariable) {
        #expect(EnvironmentVariable.lookalike(of: name) == known)
    }

    @Test(arguments: ["WORKER_PREFETCH", "PATH", "HOME", "HOSTNAME", "LOGNAME", "WORKER_PRFCH", "QUEUE_PREFIX_X_Y", "CHAOS_TESTS"])
    func knownNamesAndUnrelatedOnesAreNot(name: String) {
        #expect(EnvironmentVariable.lookalike(of: name) == nil)
    }

    @Test func theNearestKnownNameWins() {
        // HTTP_POT is two edits from HTTP_HOST (listed first) and one from HTTP_PORT; HTTP_HOT the other way round.
        #expect(EnvironmentVariable.lookalike(of: "HTTP_POT") == .httpPort)
        #expect(EnvironmentVariable.lookalike(of: "HTTP_HOT") == .httpHost)
    }

    @Test func anEnvironmentListsItsLookalikesSortedAndLeavesTheRestAlone() {
        let environment = EnvironmentConfiguration([
            "WORKER_PREFECH": "5", "DATABSE_URL": "postgres://x", "WORKER_PREFETCH": "3000", "PATH": "/usr/bin", "LANG": "C.UTF-8",
        ])
        let found = environment.lookalikes.map { "\($0.unknown)->\($0.known.name)" }
        #expect(found == ["DATABSE_URL->DATABASE_URL", "WORKER_PREFECH->WORKER_PREFETCH"])
    }

    @Test func logLevelTakesSwiftLogsLevelsInAnyCaseAndRefusesTheRestByName() throws {
        #expect(try EnvironmentConfiguration([:]).logLevel() == .info)
        for level in Logger.Level.allCases {
            #expect(try EnvironmentConfiguration(["LOG_LEVEL": level.rawValue.uppercased()]).logLevel() == level)
        }
        let error = #expect(throws: ConfigurationError.self) { try EnvironmentConfiguration(["LOG_LEVEL": "verbose"]).logLevel() }
        #expect(error?.variable == "LOG_LEVEL")
        #expect(error?.description == "configuration: LOG_LEVEL must be one of trace, debug, info, notice, warning, error, critical, got 'verbose'")
    }

    /// The README's configuration table documents exactly the registry.
    @Test func theREADMEConfigurationTableListsEveryKnownVariableAndNoOther() throws {
        let readme = try String(contentsOf: Self.repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let section = try #require(readme.components(separatedBy: "\n## Configuration\n").dropFirst().first?.components(separatedBy: "\n## ").first)
        var documented: Set<String> = []
        for line in section.split(separator: "\n") where line.hasPrefix("| `") {
            let firstColumn = line.split(separator: "|").first ?? ""
            for match in firstColumn.matches(of: /`([A-Z][A-Z0-9_]*)`/) { documented.insert(String(match.output.1)) }
        }
        #expect(documented == Set(EnvironmentVariable.allCases.map(\.name)))
    }

    /// `--version` and the OpenAPI document's `info.version` are one number.
    @Test func theVersionIsTheOpenAPIDocumentsVersion() throws {
        let document = try String(contentsOf: Self.repositoryRoot.appendingPathComponent("Sources/OrderAPI/openapi.yaml"), encoding: .utf8)
        let info = try #require(document.components(separatedBy: "\ninfo:\n").dropFirst().first)
        let version = try #require(info.firstMatch(of: /\n  version: ([^\n]+)/)?.output.1)
        #expect(String(version).trimmingCharacters(in: .whitespaces) == ProjectVersion.text)
    }

    private static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
}

@Suite struct BrokerURLEnvironmentTests {
    @Test func amqpURLSTakesPrecedenceOverAMQPURL() {
        let list = "amqp://u:p@n1:5681/%2F,amqp://u:p@n2:5682/%2F"
        #expect(EnvironmentConfiguration(["AMQP_URLS": list, "AMQP_URL": "amqp://u:p@single/%2F"]).amqpURL == list)
        #expect(EnvironmentConfiguration(["AMQP_URL": "amqp://u:p@single/%2F"]).amqpURL == "amqp://u:p@single/%2F")
        #expect(EnvironmentConfiguration(["AMQP_URLS": "", "AMQP_URL": "amqp://u:p@single/%2F"]).amqpURL == "amqp://u:p@single/%2F")
        #expect(EnvironmentConfiguration([:]).amqpURL == Defaults.amqpURL)
    }
}

@Suite struct VendorDatabaseURLsTests {
    /// A cluster's vendor databases are libpq multi-host URLs, commas and all
    /// (`scripts/services cluster-env`): a comma before a host continues the URL,
    /// one before `name=scheme://` starts the next vendor.
    @Test func multiHostURLsKeepTheirCommas() throws {
        let a = "postgres://orders:orders@127.0.0.1:5441,127.0.0.1:5442,127.0.0.1:5443/vendoradb?target_session_attrs=read-write"
        let b = "postgres://orders:orders@127.0.0.1:5441,127.0.0.1:5442/vendorbdb"
        let parsed = try EnvironmentConfiguration(["VENDOR_DATABASE_URLS": "vendorA=\(a),vendorB=\(b)"]).vendorDatabaseURLs()
        #expect(parsed.map(\.name) == ["vendorA", "vendorB"])
        #expect(parsed.map(\.url) == [a, b])
        let single = try EnvironmentConfiguration(["VENDOR_DATABASE_URLS": "vendorA=postgres://h/a, vendorB=postgres://h/b"]).vendorDatabaseURLs()
        #expect(single.map(\.name) == ["vendorA", "vendorB"] && single.map(\.url) == ["postgres://h/a", "postgres://h/b"])
        #expect(throws: ConfigurationError.self) { try EnvironmentConfiguration(["VENDOR_DATABASE_URLS": "postgres://h/a"]).vendorDatabaseURLs() }
    }
}
