/// A test's fixture: built for one test, always torn down after it.
protocol TornDown: Sendable {
    func tearDown() async
}

extension TornDown {
    /// Runs `body` with the fixture and tears it down, whether `body` threw or not.
    func use(_ body: (Self) async throws -> Void) async throws {
        do {
            try await body(self)
        } catch {
            await tearDown()
            throw error
        }
        await tearDown()
    }
}
