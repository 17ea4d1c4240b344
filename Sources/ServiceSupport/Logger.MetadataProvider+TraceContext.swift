import Instrumentation
import Logging

extension Logger.MetadataProvider {
    /// `trace_id` and `span_id` of the current `ServiceContext`'s trace, on
    /// every line logged while one is current (a request, a delivery's
    /// handling, the database work they hand to the pool's threads).
    public static let traceContext = Logger.MetadataProvider {
        ServiceContext.current?.traceContext?.logMetadata ?? [:]
    }
}
