import ArgumentParser
import ServiceSupport

/// `--amqp-url`, for the commands that talk to the broker.
struct BrokerOptions: ParsableArguments {
    // No declared default: --help would print the environment's value, password included.
    @Option(name: .customLong("amqp-url"), help: "Broker URL, or a comma-separated list of a cluster's nodes (default: $AMQP_URLS, $AMQP_URL or \(Defaults.amqpURL)).")
    var amqpURLOption: String?

    var amqpURL: String { amqpURLOption ?? EnvironmentConfiguration().amqpURL }
}
