/// What would skew the figures, noted between phases for the report: other
/// heavy work on the machine (builds and test runs of other checkouts) and
/// restarts of the shared services (another checkout's chaos tests stop them).
public struct Disturbance: Codable, Sendable, Equatable {
    public var checks = 0
    /// The labels of the checks that saw other work, in order.
    public var disturbedAt: [String] = []
    /// That work, program and first arguments.
    public var seen: Set<String> = []
    public var restarts: [String] = []
    public var rabbitPID: Int32?
    public var postmasterPID: Int32?

    public init() {}

    /// One check before `label`, given every process's command line and the services' pids now.
    public mutating func check(_ label: String, commandLines: [String], rabbitPID: Int32?, postmasterPID: Int32?) {
        checks += 1
        if let seen = self.rabbitPID, rabbitPID != seen { restarts.append("RabbitMQ restarted before \(label)") }
        if let seen = self.postmasterPID, postmasterPID != seen { restarts.append("PostgreSQL restarted before \(label)") }
        self.rabbitPID = rabbitPID ?? self.rabbitPID
        self.postmasterPID = postmasterPID ?? self.postmasterPID
        let heavy = commandLines.compactMap(Self.heavyWork)
        guard !heavy.isEmpty else { return }
        seen.formUnion(heavy)
        if disturbedAt.last != label { disturbedAt.append(label) }
    }

    /// A build or test run (swift-build, swift-test, an .xctest bundle) as "program args…" (six words at most).
    static func heavyWork(_ commandLine: String) -> String? {
        let words = commandLine.split(separator: " ")
        guard let program = words.first?.split(separator: "/").last else { return nil }
        guard program == "swift-build" || program == "swift-test" || program.hasSuffix(".xctest") else { return nil }
        return ([program] + words.dropFirst().prefix(5)).joined(separator: " ")
    }

    /// The report's closing lines.
    public var warnings: [String] {
        var warnings = restarts
        if !disturbedAt.isEmpty {
            let at = disturbedAt.count == checks
                ? "every one of the \(checks) checks between phases"
                : "\(disturbedAt.count) of \(checks) checks (\(disturbedAt.joined(separator: ", ")))"
            warnings.append("other builds or test runs were running on the machine at \(at): \(seen.sorted().map { "`\($0)`" }.joined(separator: ", "))")
        }
        guard !warnings.isEmpty else {
            return ["- No other builds or test runs were seen on the machine between phases, and neither service restarted."]
        }
        return warnings.map { "- **Disturbed:** \($0)" }
    }
}
