import Admin
import ArgumentParser
import Foundation
import ServiceSupport

/// The healthcheck of every compose service built from this package (the
/// runtime image has no curl): exit 0 healthy, 1 not, as Docker expects.
struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Check one daemon: its HTTP health route, or that its queue has a consumer (exit 0 healthy, 1 not).",
        discussion: """
            orderctl health --url http://127.0.0.1:8080/health/ready     # order-api
            orderctl health --url http://127.0.0.1:8081/health/live      # stock-sync
            orderctl health --url http://127.0.0.1:8082/health/ready     # fulfilment-worker (503 while its WMS breaker is open)
            orderctl health --consumers-on orders_queue                  # order-worker (vendor_sync: vendor-sync-worker)
            """
    )

    @Option(help: "Healthy when GET URL answers 2xx.")
    var url: String?

    @Option(name: .customLong("consumers-on"), help: "Healthy when this queue exists and has at least one consumer.")
    var queue: String?

    // No declared default: --help would print the environment's value, password included.
    @Option(name: .customLong("amqp-url"), help: "Broker URL (or a cluster's, comma-separated) for --consumers-on (default: $AMQP_URLS, $AMQP_URL or \(Defaults.amqpURL)).")
    var amqpURL: String?

    @Option(help: "Seconds the HTTP check may take.")
    var timeout: Int = 5

    func validate() throws {
        guard (url == nil) != (queue == nil) else {
            throw ValidationError("give exactly one of --url and --consumers-on")
        }
        guard timeout > 0 else { throw ValidationError("--timeout must be at least 1 second") }
    }

    func run() async throws {
        let probe = HealthProbe(amqpURL: amqpURL ?? EnvironmentConfiguration().amqpURL, timeout: .seconds(timeout))
        do {
            if let url {
                print(try await probe.checkHTTP(url))
            } else if let queue {
                print(try await probe.checkConsumers(on: queue))
            }
        } catch {
            FileHandle.standardError.write(Data("orderctl: unhealthy: \(error)\n".utf8))
            throw ExitCode(ExitStatus.failure)
        }
    }
}
