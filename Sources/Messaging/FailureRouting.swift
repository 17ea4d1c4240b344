import AMQP
import Foundation
import OrderCore

/// Builds the copy of a failed message that goes to a retry queue or a DLQ:
/// the same body and properties (message id, correlation id, type), with the
/// retry state and the reason in headers, and without the broker's own
/// dead-letter headers.
public enum FailureCopy {
    public static func properties(
        of delivery: AMQPDelivery, retryCount: Int, reason: String, message: String, originalQueue: String, failedBy: String,
        now: Date = Date()
    ) -> AMQPProperties {
        var properties = delivery.properties
        var headers = properties.headers.filter { !FailureHeader.brokerDeadLetterHeaders.contains($0.key) }
        headers[FailureHeader.retryCount] = .int64(Int64(retryCount))
        headers[FailureHeader.reason] = .string(reason)
        headers[FailureHeader.message] = .string(String(message.prefix(1000)))
        headers[FailureHeader.failedAt] = .string(MessageCoding.formatDate(now))
        headers[FailureHeader.originalQueue] = .string(originalQueue)
        headers[FailureHeader.failedBy] = .string(failedBy)
        properties.headers = headers
        properties.deliveryMode = .persistent
        return properties
    }

    /// The message's `x-retry-count`, whatever integer type (or digits) it was written with.
    public static func retryCount(of properties: AMQPProperties) -> Int {
        guard let value = properties.headers[FailureHeader.retryCount] else { return 0 }
        return max(0, value.intValue ?? value.stringValue.flatMap { Int($0) } ?? 0)
    }
}
