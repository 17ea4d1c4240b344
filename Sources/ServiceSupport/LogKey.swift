/// The log metadata keys, named once so one field is spelled one way in every
/// process's log (snake_case, the JSON field name). The order id is the
/// correlation key: every line about one order carries `order_id`, so one
/// filter follows an order from the API through both workers.
///
/// AMQP and Postgres depend on swift-log alone and spell their few keys the
/// same way literally (`amqp_url`, `database_url`, `error`, `reason`, and
/// their own `amqp_heartbeat`, `amqp_consumer`, `amqp_method`,
/// `postgres_backend_pid`).
public enum LogKey {
    // Correlation
    public static let orderId = "order_id"
    public static let allocationId = "allocation_id"
    public static let vendor = "vendor"
    public static let product = "product"
    public static let quantity = "quantity"

    // Outcomes
    public static let status = "status"
    public static let result = "result"
    public static let reason = "reason"
    public static let error = "error"
    public static let duplicate = "duplicate"
    public static let allocations = "allocations"

    // Windows and retries
    public static let loop = "loop"
    public static let batch = "batch"
    public static let confirmed = "confirmed"
    public static let rejected = "rejected"
    public static let duplicates = "duplicates"
    public static let applied = "applied"
    public static let conflicted = "conflicted"
    public static let retried = "retried"
    public static let deadLettered = "dead_lettered"
    public static let durationMilliseconds = "duration_ms"
    public static let waitMilliseconds = "wait_ms"
    public static let handleMilliseconds = "handle_ms"
    public static let previousMilliseconds = "previous_ms"
    public static let attempt = "attempt"
    public static let retries = "retries"
    public static let retryIn = "retry_in"

    // Configuration
    public static let queue = "queue"
    public static let amqpURL = "amqp_url"
    public static let databaseURL = "database_url"
    public static let vendors = "vendors"
    public static let prefetch = "prefetch"
    public static let batchSize = "batch_size"
    public static let concurrency = "concurrency"
    public static let lingerMilliseconds = "linger_ms"
    public static let maxRetries = "max_retries"
}
