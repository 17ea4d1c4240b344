import Synchronization

/// The order in which a connection tries a configuration's endpoints.
///
/// Each process starts at its own node, drawn at random once per process:
/// several instances of a daemon given the same list spread over the
/// cluster's nodes instead of all landing on the first one, while the
/// connections of one process agree on where they go (its logs name one
/// node). A node that failed, to connect to or under an open connection, is
/// tried last, and among failed nodes the one that failed longest ago first:
/// a reconnect after a node died goes to the next one at once instead of
/// spending a connect timeout on the dead one. A node leaves that list when a
/// connection to it succeeds.
///
/// Process-wide, because every connection of the process learns from any
/// other's failure: the publisher that lost its node spares the consumer
/// the attempt.
enum EndpointOrder {
    private struct State {
        /// A failure count stands for when: a higher one failed later.
        var failures: [AMQPConfiguration.Endpoint: UInt64] = [:]
        var clock: UInt64 = 0
    }

    private static let state = Mutex(State())
    private static let processStart = Int.random(in: 0..<Int(Int32.max))

    static func attempts(for endpoints: [AMQPConfiguration.Endpoint]) -> [AMQPConfiguration.Endpoint] {
        let start = processStart % endpoints.count
        let rotated = Array(endpoints[start...] + endpoints[..<start])
        let failures = state.withLock { $0.failures }
        let healthy = rotated.filter { failures[$0] == nil }
        let failed = rotated.filter { failures[$0] != nil }.sorted { failures[$0]! < failures[$1]! }
        return healthy + failed
    }

    static func failed(_ endpoint: AMQPConfiguration.Endpoint) {
        state.withLock { state in
            state.clock += 1
            state.failures[endpoint] = state.clock
        }
    }

    static func succeeded(_ endpoint: AMQPConfiguration.Endpoint) {
        state.withLock { _ = $0.failures.removeValue(forKey: endpoint) }
    }
}
