import Logging
import Messaging
import OrderCore
import ServiceSupport
import StripeAPI
import TextCodecs
import Topology

/// payment-worker's configuration, from the environment.
public struct PaymentWorkerConfiguration: Sendable {
    public var amqpURL: String
    public var databaseURL: String
    public var topology: Topology
    public var stripe: StripeClient.Configuration
    /// Commands in hand at once (the prefetch), their gateway calls made concurrently.
    public var concurrency: Int
    public var retryPolicy: RetryPolicy
    public var breaker: CircuitBreaker.Policy
    public var metrics: MetricsEndpoint

    /// Reads `AMQP_URL`, `DATABASE_URL`, `QUEUE_PREFIX` (""), `RETRY_DELAY_MS` (5000), `MAX_RETRIES` (3),
    /// `STRIPE_API_BASE` (the local emulator), `STRIPE_SECRET_KEY` (sk_test_local), `STRIPE_TIMEOUT_MS`
    /// (10000), `PAYMENT_CONCURRENCY` (16), `PAYMENT_BREAKER_FAILURES` (5), `PAYMENT_BREAKER_OPEN_SECONDS` (10);
    /// `METRICS_HOST` (127.0.0.1) and `METRICS_PORT` (9103), where it serves `GET /metrics`.
    public init(environment: EnvironmentConfiguration = EnvironmentConfiguration()) throws {
        amqpURL = environment.amqpURL
        databaseURL = environment.databaseURL
        topology = try environment.topology()
        stripe = StripeClient.Configuration(
            apiBase: environment.string(.stripeAPIBase, default: Self.defaultStripeAPIBase),
            secretKey: environment.string(.stripeSecretKey, default: Self.defaultStripeSecretKey),
            timeout: .milliseconds(try environment.int(.stripeTimeoutMilliseconds, default: 10_000, in: 100...120_000)))
        concurrency = try environment.int(.paymentConcurrency, default: 16, in: 1...1000)
        retryPolicy = try environment.retryPolicy()
        breaker = CircuitBreaker.Policy(
            failureThreshold: try environment.int(.paymentBreakerFailures, default: 5, in: 1...1000),
            openDuration: .seconds(try environment.int(.paymentBreakerOpenSeconds, default: 10, in: 1...3600)))
        metrics = try environment.metricsEndpoint(defaultPort: 9103)
    }

    /// The local emulator (scripts/services runs it); production sets Stripe's own address.
    public static let defaultStripeAPIBase = "http://127.0.0.1:8420"
    /// Any `sk_test_` key opens localstripe.
    public static let defaultStripeSecretKey = "sk_test_local"

    /// One loop whose window is every command in hand, their calls concurrent.
    public var consume: ConsumeSettings {
        ConsumeSettings(prefetch: concurrency, batchSize: concurrency, loops: 1, linger: .zero, retryPolicy: retryPolicy)
    }

    /// What is logged at start: never the secret key.
    public var logMetadata: Logger.Metadata {
        [
            LogKey.amqpURL: "\(URLRedaction.redact(amqpURL))", LogKey.databaseURL: "\(URLRedaction.redact(databaseURL))",
            LogKey.queue: "\(topology.payments.main)", LogKey.stripeAPIBase: "\(URLRedaction.redact(stripe.apiBase))",
            LogKey.stripeTimeoutMilliseconds: "\(Int(stripe.timeout.milliseconds))", LogKey.concurrency: "\(concurrency)",
            LogKey.maxRetries: "\(retryPolicy.maxRetries)", LogKey.breakerFailures: "\(breaker.failureThreshold)",
            LogKey.breakerOpenSeconds: "\(breaker.openDuration.components.seconds)",
        ].merging(metrics.logMetadata) { $1 }
    }
}

extension LogKey {
    /// payment-worker's configuration.
    static let stripeAPIBase = "stripe_api_base", stripeTimeoutMilliseconds = "stripe_timeout_ms"
}
