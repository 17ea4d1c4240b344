import AMQP

/// An orderctl command that talks to the broker at `amqpURL`: one way to
/// connect and to turn broker failures into operator errors (exit 3 when the
/// broker cannot be reached or the connection is lost).
protocol BrokerAdmin {
    var amqpURL: String { get }
}

extension BrokerAdmin {

    func connect() async throws -> AMQPConnection {
        let configuration: AMQPConfiguration
        do {
            configuration = try AMQPConfiguration(url: amqpURL, connectionName: "orderctl")
        } catch {
            throw AdminError("invalid --amqp-url: \(error)", exitCode: ExitStatus.usage)
        }
        do {
            return try await AMQPConnection.connect(configuration)
        } catch {
            throw AdminError.broker(error, url: configuration.redactedURL)
        }
    }

    var redactedURL: String { (try? AMQPConfiguration(url: amqpURL).redactedURL) ?? "the broker" }

    /// Runs `body` on a fresh connection and closes it afterwards; broker
    /// failures become one-line errors (exit 3 when the connection is lost).
    func withConnection<T>(_ doing: String, _ body: (AMQPConnection) async throws -> T) async throws -> T {
        let connection = try await connect()
        do {
            let result = try await body(connection)
            await connection.close()
            return result
        } catch {
            await connection.close()
            throw failure(error, doing)
        }
    }

    /// An operator's error for a broker failure while doing something.
    func failure(_ error: any Error, _ doing: String, detail: String = "") -> any Error {
        guard let amqp = error as? AMQPError else { return error }
        let suffix = detail.isEmpty ? "" : "; " + detail
        if amqp.isConnectionDead {
            return AdminError("lost the connection to the broker at \(redactedURL) while \(doing): \(amqp)\(suffix)", exitCode: ExitStatus.brokerUnavailable)
        }
        return AdminError("broker refused while \(doing): \(amqp)\(suffix)")
    }

}
