import AMQP
import AsyncHTTPClient
import Foundation
import NIOCore

/// `orderctl health`: the check a container's healthcheck runs. The runtime
/// image has no curl, and a worker has no HTTP port to ask, so the probe
/// speaks both: HTTP to a daemon's health route, AMQP to the broker about a
/// worker's queue. A check that passes returns what it saw; one that fails
/// throws, and `orderctl health` exits 1, the one code Docker reads as
/// "unhealthy" (it reserves 2).
public struct HealthProbe: Sendable, BrokerAdmin {
    public let amqpURL: String
    /// How long the HTTP request may take in all.
    public let timeout: Duration

    public init(amqpURL: String, timeout: Duration = .seconds(5)) {
        self.amqpURL = amqpURL
        self.timeout = timeout
    }

    /// Healthy when `GET url` answers 2xx; returns the status and the start of the body.
    public func checkHTTP(_ url: String) async throws -> String {
        let request = HTTPClientRequest(url: url)
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(request, timeout: TimeAmount(timeout))
        } catch {
            throw AdminError("GET \(url): no answer: \(error)")
        }
        let body = (try? await response.body.collect(upTo: 4096)).map { String(buffer: $0) } ?? ""
        let answer = "GET \(url): \(response.status.code) \(body.trimmingCharacters(in: .whitespacesAndNewlines))"
        guard (200..<300).contains(response.status.code) else { throw AdminError(answer) }
        return answer
    }

    /// Healthy when `queue` exists and at least `minimum` consumers take from it:
    /// a worker that lost its broker connection or stopped consuming has none.
    public func checkConsumers(on queue: String, minimum: Int = 1) async throws -> String {
        let state = try await withConnection("checking \(queue)") { connection in
            let channel = try await connection.openChannel()
            let state = try await channel.declareQueue(queue, passive: true)
            await channel.close()
            return state
        }
        let answer = "\(queue): \(state.consumerCount) consumer(s), \(state.messageCount) message(s) ready"
        guard state.consumerCount >= minimum else { throw AdminError(answer + "; expected at least \(minimum) consumer(s)") }
        return answer
    }
}
