/// Runs a test's rounds a few at a time, as that many clients would.
enum ConcurrentRounds {
    /// `body` over `inputs`, `width` at a time (each task takes one slice in
    /// order); the results in input order.
    static func map<Input: Sendable, Output: Sendable>(
        _ inputs: [Input], width: Int = 8, _ body: @escaping @Sendable (Input) async throws -> Output
    ) async throws -> [Output] {
        try await withThrowingTaskGroup(of: [(Int, Output)].self) { group in
            for slice in slices(inputs.count, into: width) {
                group.addTask { try await slice.asyncMapInOrder { ($0, try await body(inputs[$0])) } }
            }
            return try await group.reduce(into: []) { $0 += $1 }.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    /// `0..<count` cut into at most `parts` consecutive ranges.
    static func slices(_ count: Int, into parts: Int) -> [Range<Int>] {
        let size = max(1, (count + parts - 1) / parts)
        return stride(from: 0, to: count, by: size).map { $0..<min($0 + size, count) }
    }
}

extension Range<Int> {
    /// One after another, in order.
    func asyncMapInOrder<T>(_ transform: (Int) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for index in self { results.append(try await transform(index)) }
        return results
    }
}
