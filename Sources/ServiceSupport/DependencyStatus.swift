import Foundation
import Metrics
import Synchronization

/// The dependencies a process is waiting for, for its `/health/ready`: each
/// by name with when it went away and why. One per process, ``process``:
/// every worker loop reports to it and the health endpoint reads it (a test
/// that runs several workers in one process gives each its own).
///
/// Several holders (the loops of a queue worker, a sweeper) can find the
/// same dependency away at once: it stays unavailable until the last of them
/// got through, it was away since the first one found it so, and only the
/// first and the last are told so (``OutageTracker`` logs the outage's start
/// and end once).
/// Each dependency's state is also the gauge `dependency_up{dependency}`
/// (1 up, 0 away), set once it was seen away.
public final class DependencyStatus: Sendable {
    public static let process = DependencyStatus()

    public struct Outage: Sendable, Hashable, Encodable {
        public var dependency: String
        public var since: Date
        public var detail: String
    }

    private struct Entry {
        var outage: Outage
        var started: ContinuousClock.Instant
        var holders: Int
    }

    private let entries = Mutex<[String: Entry]>([:])

    public init() {}

    /// What is away now, by name.
    public var outages: [Outage] {
        entries.withLock { $0.values.map(\.outage) }.sorted { $0.dependency < $1.dependency }
    }

    public var isReady: Bool { entries.withLock { $0.isEmpty } }

    /// One more holder finds `dependency` away. True when it was up until now
    /// (the outage starts). A later detail replaces the first: it says why now.
    @discardableResult
    public func enter(_ dependency: String, detail: String) -> Bool {
        let started = entries.withLock { entries in
            if var entry = entries[dependency] {
                entry.holders += 1
                entry.outage.detail = detail
                entries[dependency] = entry
                return false
            }
            entries[dependency] = Entry(outage: Outage(dependency: dependency, since: Date(), detail: detail), started: .now, holders: 1)
            return true
        }
        if started { Self.gauge(dependency).record(0) }
        return started
    }

    /// A holder that entered `dependency` got through. Returns how long the
    /// dependency was away when this was its last holder (the outage ends), nil otherwise.
    @discardableResult
    public func leave(_ dependency: String) -> Duration? {
        let ended: Duration? = entries.withLock { entries in
            guard var entry = entries[dependency] else { return nil }
            entry.holders -= 1
            if entry.holders > 0 {
                entries[dependency] = entry
                return nil
            }
            entries[dependency] = nil
            return .now - entry.started
        }
        if ended != nil { Self.gauge(dependency).record(1) }
        return ended
    }

    private static func gauge(_ dependency: String) -> Gauge {
        Gauge(label: "dependency_up", dimensions: [("dependency", dependency)])
    }
}

extension LogKey {
    /// A dependency a worker waits for.
    public static let dependency = "dependency"
}
