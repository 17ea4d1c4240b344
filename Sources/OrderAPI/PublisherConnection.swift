import Messaging
import ServiceLifecycle

/// order-api's broker connection as a service: connects when order-api
/// starts, so the first request does not wait for the connection, and closes
/// it at graceful shutdown, after the server has stopped taking requests.
struct PublisherConnection: Service {
    let publisher: ReconnectingPublisher

    func run() async throws {
        _ = await publisher.isReady()
        try? await gracefulShutdown()
        await publisher.close()
    }
}
