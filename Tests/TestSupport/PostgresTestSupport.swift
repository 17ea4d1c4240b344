import Foundation
import Postgres

/// Helpers for tests that talk to the live PostgreSQL of `scripts/services`.
extension TestEnvironment {
    public static func postgresConfiguration(database: String? = nil) throws -> PostgresConfiguration {
        var configuration = try PostgresConfiguration(url: databaseURL)
        if let database { configuration.database = database }
        configuration.applicationName = "order-processing-tests"
        return configuration
    }

    public static func connectPostgres(database: String? = nil) throws -> PostgresConnection {
        try PostgresConnection(configuration: postgresConfiguration(database: database))
    }

    /// A fresh SQL identifier (lower case letters, digits and `_`) for a throwaway table or database.
    public static func uniqueIdentifier(_ prefix: String) -> String {
        let name = uniqueName(prefix).lowercased().map { $0.isLetter || $0.isNumber ? $0 : "_" }
        return String(name)
    }

    /// Creates an empty database, passes its configuration to `body` and
    /// drops it afterwards (`WITH (FORCE)`, so a leaked connection cannot keep it alive).
    public static func withThrowawayDatabase<T>(
        _ prefix: String, _ body: (PostgresConfiguration) throws -> T
    ) throws -> T {
        let configuration = try createThrowawayDatabase(prefix)
        defer { dropThrowawayDatabase(configuration.database) }
        return try body(configuration)
    }

    /// Creates an empty database with a fresh name; drop it with `dropThrowawayDatabase`.
    public static func createThrowawayDatabase(_ prefix: String) throws -> PostgresConfiguration {
        let name = uniqueIdentifier(prefix)
        let admin = try connectPostgres()
        defer { admin.close() }
        // Identifiers cannot be parameters; `name` is generated from [a-z0-9_].
        try admin.executeScript("CREATE DATABASE \"\(name)\"")
        return try postgresConfiguration(database: name)
    }

    public static func dropThrowawayDatabase(_ name: String) {
        precondition(name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" })
        guard let admin = try? connectPostgres() else { return }
        defer { admin.close() }
        try? admin.executeScript("DROP DATABASE IF EXISTS \"\(name)\" WITH (FORCE)")
    }
}

/// Runs `count` blocking jobs on threads of their own (never on the cooperative
/// pool) and returns their results in order.
public func onThreads<R: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) -> R) async -> [R] {
    await withTaskGroup(of: (Int, R).self) { group in
        for index in 0..<count {
            group.addTask {
                await withCheckedContinuation { continuation in
                    let thread = Thread { continuation.resume(returning: (index, body(index))) }
                    thread.start()
                }
            }
        }
        var results: [(Int, R)] = []
        for await result in group { results.append(result) }
        return results.sorted { $0.0 < $1.0 }.map(\.1)
    }
}

/// A one-shot rendezvous for `parties` threads (blocking; for tests).
public final class ThreadBarrier: @unchecked Sendable {
    private let condition = NSCondition()
    private var waiting = 0
    private let parties: Int

    public init(parties: Int) { self.parties = parties }

    /// Blocks until `parties` threads have called `wait`, or `timeout` passes (returns false).
    @discardableResult
    public func wait(timeout: TimeInterval = 30) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        waiting += 1
        if waiting >= parties {
            condition.broadcast()
            return true
        }
        let deadline = Date(timeIntervalSinceNow: timeout)
        while waiting < parties {
            if !condition.wait(until: deadline) { return false }
        }
        return true
    }
}

/// The order database rows the system tests set up and read back.
extension TestEnvironment {
    /// Runs `body` on a fresh connection to the orders database and closes it.
    public static func withOrdersDatabase<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        let connection = try connectPostgres()
        defer { connection.close() }
        return try body(connection)
    }

    /// `withOrdersDatabase` on a thread of its own: a statement that waits for a
    /// row lock never holds one of the cooperative pool's few threads, which the
    /// test holding that lock may need to let it go.
    public static func ordersDatabase<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await onThreads(1) { _ in Result { try withOrdersDatabase(body) } }[0].get()
    }

    /// Creates product `id` with stock per vendor (the vendors must exist).
    public static func createProduct(_ id: String, stock: [String: Int]) throws {
        try withOrdersDatabase { connection in
            try connection.query("INSERT INTO products (id, name) VALUES ($1, $1)", [id])
            for (vendor, units) in stock {
                try connection.query("INSERT INTO vendor_stock (product_id, vendor_id, stock) VALUES ($1, $2, $3)", [id, vendor, units])
            }
        }
    }

    /// A product's stock per vendor.
    public static func stock(of product: String) throws -> [String: Int] {
        try withOrdersDatabase { connection in
            Dictionary(uniqueKeysWithValues: try connection.query(
                "SELECT vendor_id, stock FROM vendor_stock WHERE product_id = $1", [product]
            ).rows.map { (try $0.decode(0, as: String.self), try $0.decode(1, as: Int.self)) })
        }
    }
}
