import Logging

/// One holder's part in a ``DependencyStatus``: a loop that finds a
/// dependency away reports it on each failed try and reports success once it
/// got through; the status counts it once, and the outage's start (warning,
/// with why) and end (info, with how long) are logged once per outage,
/// however many tries and holders it took.
public struct OutageTracker: Sendable {
    public let status: DependencyStatus
    /// The dependency this holder waits for, if any.
    public private(set) var waitingFor: String?

    public init(status: DependencyStatus) {
        self.status = status
    }

    /// A try failed because `dependency` is away; `holding` says what the holder does meanwhile.
    public mutating func unavailable(_ dependency: String, detail: String, holding: String, logger: Logger) {
        guard waitingFor != dependency else { return }
        abandon()
        waitingFor = dependency
        if status.enter(dependency, detail: detail) {
            logger.warning("dependency unavailable; \(holding)", metadata: [LogKey.dependency: "\(dependency)", LogKey.reason: "\(detail)"])
        }
    }

    /// A try got through: the dependency this holder waited for is back for it.
    public mutating func available(logger: Logger) {
        guard let dependency = waitingFor else { return }
        waitingFor = nil
        if let duration = status.leave(dependency) {
            logger.info("dependency back", metadata: [LogKey.dependency: "\(dependency)", LogKey.durationMilliseconds: "\(duration.milliseconds)"])
        }
    }

    /// The holder stops waiting without getting through (shutdown, its connection lost).
    public mutating func abandon() {
        guard let dependency = waitingFor else { return }
        waitingFor = nil
        status.leave(dependency)
    }
}
