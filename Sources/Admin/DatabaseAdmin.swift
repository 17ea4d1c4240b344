import Foundation
import OrderStore
import Postgres

/// `orderctl db …`: migrations and demo data for ordersdb and every vendor database.
public struct DatabaseAdmin: Sendable {
    public let databaseURL: String
    public let vendorDatabaseURLs: [(name: String, url: String)]
    public let migrationsDirectory: URL

    public init(databaseURL: String, vendorDatabaseURLs: [(name: String, url: String)], migrationsDirectory: URL) {
        self.databaseURL = databaseURL
        self.vendorDatabaseURLs = vendorDatabaseURLs
        self.migrationsDirectory = migrationsDirectory
    }

    /// Every database with the runner for its schema.
    private var targets: [(database: String, url: String, runner: MigrationRunner)] {
        [("ordersdb", databaseURL, MigrationRunner(directory: migrationsDirectory))]
            + vendorDatabaseURLs.map {
                ($0.name, $0.url, MigrationRunner(directory: migrationsDirectory.appendingPathComponent(MigrationRunner.vendorSubdirectory)))
            }
    }

    static func connect(_ url: String, name: String) throws -> PostgresConnection {
        let configuration = try PostgresConfiguration(url: url)
        do {
            return try PostgresConnection(configuration: configuration)
        } catch {
            throw AdminError("cannot reach database \(name) at \(configuration.redactedURL): \(error)", exitCode: ExitStatus.databaseUnavailable)
        }
    }

    /// Applies pending migrations everywhere; a second run applies nothing.
    public func migrate() throws -> Report {
        var rows: [[String]] = []
        for target in targets {
            let connection = try Self.connect(target.url, name: target.database)
            defer { connection.close() }
            let applied = try target.runner.apply(on: connection)
            rows.append([target.database, applied.isEmpty ? "up to date" : "applied " + applied.map(\.fileName).joined(separator: ", ")])
        }
        return Report(columns: ["database", "migrations"], rows: rows)
    }

    public func status() throws -> Report {
        var rows: [[String]] = []
        for target in targets {
            let connection = try Self.connect(target.url, name: target.database)
            defer { connection.close() }
            for entry in try target.runner.status(on: connection) {
                rows.append([target.database, String(format: "%04d", entry.version), entry.name, Self.describe(entry.state)])
            }
        }
        return Report(columns: ["database", "version", "name", "state"], rows: rows)
    }

    /// Demo data in ordersdb and in each vendor database.
    public func seed(reset: Bool) throws -> Report {
        let vendors = vendorDatabaseURLs.map(\.name)
        let orders = try Self.connect(databaseURL, name: "ordersdb")
        defer { orders.close() }
        var rows = [["ordersdb", "\(try DemoData.seedOrders(vendors: vendors, reset: reset, on: orders)) stock rows written"]]
        for vendor in vendorDatabaseURLs {
            let connection = try Self.connect(vendor.url, name: vendor.name)
            defer { connection.close() }
            rows.append([vendor.name, "\(try DemoData.seedVendor(vendor.name, reset: reset, on: connection)) products written"])
        }
        return Report(columns: ["database", "seed"], rows: rows)
    }

    static func describe(_ state: MigrationStatus.State) -> String {
        switch state {
        case .pending: "pending"
        case .applied(let at): "applied \(at)"
        case .checksumMismatch: "CHANGED since applied"
        case .missingFile: "applied, file missing"
        }
    }
}
