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
    /// Who a line is about.
    public static let orderId = "order_id", movementId = "movement_id", vendor = "vendor", product = "product", quantity = "quantity"

    /// The W3C trace context a line belongs to (the trace follows one order
    /// across processes, as `order_id` does; the span is one process's part).
    public static let traceId = "trace_id", spanId = "span_id"

    /// What happened.
    public static let status = "status", result = "result", reason = "reason", error = "error"
    public static let duplicate = "duplicate", allocations = "allocations", lines = "lines"

    /// A worker's windows and retries.
    public static let loop = "loop", batch = "batch", attempt = "attempt", retries = "retries", retryIn = "retry_in"
    public static let confirmed = "confirmed", rejected = "rejected", duplicates = "duplicates"
    public static let retried = "retried", deadLettered = "dead_lettered"
    public static let durationMilliseconds = "duration_ms", waitMilliseconds = "wait_ms", handleMilliseconds = "handle_ms"
    public static let previousMilliseconds = "previous_ms"

    /// Configuration, logged at start.
    public static let queue = "queue", amqpURL = "amqp_url", databaseURL = "database_url", vendors = "vendors"
    public static let prefetch = "prefetch", batchSize = "batch_size", concurrency = "concurrency"
    public static let lingerMilliseconds = "linger_ms", maxRetries = "max_retries", version = "version"

    /// A daemon's life.
    public static let signal = "signal"

    /// order events and the outbox relay.
    public static let exchange = "exchange", routingKey = "routing_key", published = "published", events = "events"
    public static let reservationTTLSeconds = "reservation_ttl_seconds", lowStockThreshold = "low_stock_threshold"
    public static let outboxPollMilliseconds = "outbox_poll_ms", outboxBatchSize = "outbox_batch_size"

    /// stock-sync runs and migrations.
    public static let synced = "synced", failed = "failed", migration = "migration", directory = "directory"
}
