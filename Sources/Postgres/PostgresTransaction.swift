/// `BEGIN ISOLATION LEVEL …`; the raw value is the SQL spelling.
public enum IsolationLevel: String, Sendable, Hashable, CaseIterable {
    case readCommitted = "READ COMMITTED"
    case repeatableRead = "REPEATABLE READ"
    case serializable = "SERIALIZABLE"
}

extension PostgresConnection {
    /// Runs `body` inside `BEGIN … COMMIT`.
    ///
    /// Any error thrown by `body` rolls the transaction back and is rethrown
    /// unchanged. If `body` caught a failed statement and carried on, the
    /// transaction cannot commit: it is rolled back and a `25P02` error is
    /// thrown. Transactions do not nest: calling this inside a transaction
    /// is a `.protocolViolation`.
    @discardableResult
    public func withTransaction<T>(
        isolation: IsolationLevel = .readCommitted,
        _ body: (PostgresConnection) throws -> T
    ) throws -> T {
        guard transactionStatus == .idle else {
            throw PostgresError.protocolViolation("withTransaction cannot start: the connection is already in a transaction (or closed)")
        }
        try query("BEGIN ISOLATION LEVEL " + isolation.rawValue)
        let value: T
        do {
            value = try body(self)
        } catch {
            rollbackIfInTransaction()
            throw error
        }
        switch transactionStatus {
        case .inTransaction:
            break
        case .inError:
            rollbackIfInTransaction()
            throw PostgresError(
                kind: .server, code: .inFailedSQLTransaction,
                message: "the transaction was aborted by an earlier error inside the body; rolled back")
        default:
            throw PostgresError.protocolViolation("the transaction body ended the transaction itself")
        }
        do {
            try query("COMMIT")
        } catch {
            rollbackIfInTransaction()
            throw error
        }
        return value
    }

    /// `ROLLBACK` when a transaction block is open; errors are ignored (a
    /// connection too broken to roll back has lost the transaction anyway).
    func rollbackIfInTransaction() {
        let status = transactionStatus
        guard status == .inTransaction || status == .inError else { return }
        _ = try? query("ROLLBACK")
    }
}
