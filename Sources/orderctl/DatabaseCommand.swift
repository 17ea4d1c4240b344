import Admin
import ArgumentParser
import Foundation
import OrderStore

struct DatabaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Migrate, inspect and seed ordersdb and the vendor databases.",
        subcommands: [Migrate.self, Status.self, Seed.self]
    )

    struct Options: ParsableArguments {
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var vendors: VendorDatabaseOptions
        @OptionGroup var output: OutputOptions

        @Option(name: .customLong("migrations-dir"), help: "Migration files (default: $MIGRATIONS_DIR or ./migrations).")
        var migrationsDir: String?

        func admin() throws -> DatabaseAdmin {
            let directory = migrationsDir.map { URL(fileURLWithPath: $0, isDirectory: true) } ?? MigrationRunner.defaultDirectory()
            return DatabaseAdmin(databaseURL: database.databaseURL, vendorDatabaseURLs: try vendors.vendorURLs(), migrationsDirectory: directory)
        }
    }

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Apply pending migrations to every database (safe to run twice).")
        @OptionGroup var options: Options

        func run() async throws {
            try await runReporting(options.output.format) { print(try options.admin().migrate().render(options.output.format)) }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show which migrations each database has.")
        @OptionGroup var options: Options

        func run() async throws {
            try await runReporting(options.output.format) { print(try options.admin().status().render(options.output.format)) }
        }
    }

    struct Seed: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load the demo catalogue: vendorA p1=10, p2=15; vendorB p3=20, p2=5.",
            discussion: "Existing stock rows are left alone unless --reset is given.")
        @OptionGroup var options: Options
        @Flag(help: "Overwrite existing stock with the demo figures.") var reset = false

        func run() async throws {
            try await runReporting(options.output.format) { print(try options.admin().seed(reset: reset).render(options.output.format)) }
        }
    }
}
