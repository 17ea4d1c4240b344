import Logging
import Postgres
import ServiceSupport

/// How both workers apply a window: one transaction for all of it; if that
/// fails for any reason but a database that is away
/// (`PostgresError.isUnavailable`), one transaction per item (each a window
/// of one), so one bad or conflicting item only affects itself. A database
/// that is away fails every item left with that error, rather than each
/// trying to connect again.
public enum WindowFallback {
    /// The result of each item, in order.
    public static func apply<Item: Sendable, Applied: Sendable>(
        _ items: [Item], on pool: PostgresPool, logger: Logger, metadata: Logger.Metadata = [:],
        window: @escaping @Sendable ([Item], PostgresConnection) throws -> [Applied],
        single: @escaping @Sendable (Item, PostgresConnection) throws -> Applied
    ) async -> [Result<Applied, any Error>] {
        // A window of one is its own fallback: one attempt, not the same one twice.
        if items.count == 1 {
            do {
                return [.success(try await pool.withConnection { try single(items[0], $0) })]
            } catch {
                return [.failure(error)]
            }
        }
        do {
            return try await pool.withConnection { try window(items, $0) }.map { .success($0) }
        } catch let error as PostgresError where error.isUnavailable {
            return items.map { _ in .failure(error) }
        } catch {
            // Logged: a window path that always fails would otherwise hide behind this fallback.
            logger.warning(
                "window transaction failed; applying its items one by one",
                metadata: metadata.merging([LogKey.batch: "\(items.count)", LogKey.error: "\(error)"]) { $1 })
        }
        var results: [Result<Applied, any Error>] = []
        results.reserveCapacity(items.count)
        for item in items {
            do {
                results.append(.success(try await pool.withConnection { try single(item, $0) }))
            } catch let error as PostgresError where error.isUnavailable {
                results += Array(repeating: .failure(error), count: items.count - results.count)
                break
            } catch {
                results.append(.failure(error))
            }
        }
        return results
    }
}
