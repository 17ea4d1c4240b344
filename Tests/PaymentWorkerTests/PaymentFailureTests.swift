import Messaging
import PaymentWorker
import Testing

/// What a command without an answer becomes: a database that is away waits without a
/// retry (the window is held when it holds only authorizes), any other database error retries.
@Suite struct PaymentFailureTests {
    @Test func aDatabaseThatIsAwayPostponesAndAnyOtherDatabaseErrorRetries() {
        #expect(
            PaymentCommandHandler.Failure.databaseUnavailable("Connection refused").deliveryOutcome
                == .postpone(reason: "database-unavailable", message: "Connection refused"))
        #expect(
            PaymentCommandHandler.Failure.database("PostgreSQL server error 23505: duplicate key").deliveryOutcome
                == .retry(reason: "database-error", message: "PostgreSQL server error 23505: duplicate key"))
    }
}
