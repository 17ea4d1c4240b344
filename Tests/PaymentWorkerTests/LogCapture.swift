import Logging
import Synchronization

/// Keeps the `breaker_state` of every line logged through it.
final class LogCapture: LogHandler, Sendable {
    private let captured = Mutex<[String]>([])
    var states: [String] { captured.withLock { $0 } }

    var metadata: Logger.Metadata {
        get { [:] }
        set {}
    }

    var logLevel: Logger.Level {
        get { .trace }
        set {}
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { nil }
        set {}
    }

    func log(event: LogEvent) {
        if case .string(let state)? = event.metadata?["breaker_state"] { captured.withLock { $0.append(state) } }
    }
}
