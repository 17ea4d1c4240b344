import Crypto
import Foundation
import Logging
import Postgres
import ServiceSupport

/// One numbered SQL file, `NNNN_name.sql`.
public struct Migration: Sendable, Hashable {
    public let version: Int
    /// The part after the number: `initial` for `0001_initial.sql`.
    public let name: String
    public let fileName: String
    public let sql: String
    /// SHA-256 of the file's bytes, lower-case hex.
    public let checksum: String

    public init(version: Int, name: String, fileName: String, sql: String) {
        self.version = version
        self.name = name
        self.fileName = fileName
        self.sql = sql
        self.checksum = Self.checksum(of: sql)
    }

    /// SHA-256 of the text's UTF-8 bytes as 64 lower-case hex digits: the
    /// form `schema_migrations` records, so it must never change.
    static func checksum(of sql: String) -> String {
        SHA256.hash(data: Array(sql.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}

/// Where one migration stands in a database.
public struct MigrationStatus: Sendable, Hashable {
    public enum State: Sendable, Hashable {
        case pending
        case applied(at: Date)
        /// Applied, but the file changed since (the recorded checksum differs).
        case checksumMismatch(appliedAt: Date)
        /// Recorded in `schema_migrations`, but no such file in the directory.
        case missingFile(appliedAt: Date)
    }

    public let version: Int
    public let name: String
    public let state: State
}

public enum MigrationError: Error, CustomStringConvertible, Sendable {
    case directoryUnreadable(path: String, reason: String)
    case invalidFileName(String)
    case duplicateVersion(Int, files: [String])
    case notUTF8(fileName: String)
    case checksumMismatch(version: Int, fileName: String, recorded: String, current: String)
    /// A file is pending but a later version is already applied: someone added or renumbered a file.
    case outOfOrder(fileName: String, latestApplied: Int)
    /// The file has its own COMMIT/ROLLBACK, so it could not be recorded atomically.
    case fileEndedTransaction(fileName: String)
    case failed(fileName: String, error: PostgresError)

    public var description: String {
        switch self {
        case .directoryUnreadable(let path, let reason):
            "cannot read the migrations directory \(path): \(reason)"
        case .invalidFileName(let name):
            "migration file name \"\(name)\" does not match NNNN_name.sql (four digits, an underscore, letters/digits/_/-)"
        case .duplicateVersion(let version, let files):
            "migration version \(version) is used by more than one file: \(files.joined(separator: ", "))"
        case .notUTF8(let fileName):
            "migration \(fileName) is not valid UTF-8"
        case .checksumMismatch(let version, let fileName, let recorded, let current):
            "migration \(fileName) (version \(version)) was changed after it was applied: recorded checksum \(recorded.prefix(12))…, file now \(current.prefix(12))…; add a new migration instead of editing an applied one"
        case .outOfOrder(let fileName, let latestApplied):
            "migration \(fileName) is pending but version \(latestApplied) is already applied; renumber it after \(latestApplied)"
        case .fileEndedTransaction(let fileName):
            "migration \(fileName) ended the migration's transaction itself (COMMIT/ROLLBACK in the file); its changes may be committed without a schema_migrations row"
        case .failed(let fileName, let error):
            "migration \(fileName) failed and was rolled back: \(error)"
        }
    }
}

/// Applies the numbered SQL files of one directory to a database, in version
/// order, each in its own transaction together with its `schema_migrations`
/// row. A transaction-scoped advisory lock serialises concurrent runners
/// (two processes migrating at once apply each file once), and the applied
/// set is re-read under that lock. Running it again applies nothing. A file
/// changed after it was applied is an error (SHA-256 checksums).
///
/// Files must not contain transaction control (`BEGIN`/`COMMIT`) or
/// statements that cannot run in a transaction (`CREATE INDEX CONCURRENTLY`).
public struct MigrationRunner: Sendable {
    public let directory: URL

    /// Key of the `pg_advisory_xact_lock` held while migrating (per database).
    public static let advisoryLockKey: Int64 = 0x6f72_6465_7273_6d67  // "ordersmg"
    /// The subdirectory holding the migrations for every vendor database.
    public static let vendorSubdirectory = "vendor"

    public init(directory: URL) {
        self.directory = directory
    }

    /// `MIGRATIONS_DIR` if set (relative paths from the current directory),
    /// else `./migrations`.
    public static func defaultDirectory(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        currentDirectory: String = FileManager.default.currentDirectoryPath
    ) -> URL {
        let base = URL(fileURLWithPath: currentDirectory, isDirectory: true)
        if let configured = environment["MIGRATIONS_DIR"], !configured.isEmpty {
            return URL(fileURLWithPath: configured, isDirectory: true, relativeTo: base).standardizedFileURL
        }
        return base.appendingPathComponent("migrations", isDirectory: true).standardizedFileURL
    }

    /// The runner for ordersdb (`<dir>`) and the one for vendor databases (`<dir>/vendor`).
    public static func runners(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> (orders: MigrationRunner, vendor: MigrationRunner) {
        let directory = defaultDirectory(environment: environment)
        return (MigrationRunner(directory: directory),
                MigrationRunner(directory: directory.appendingPathComponent(vendorSubdirectory, isDirectory: true)))
    }

    // MARK: - Files

    /// The directory's migrations sorted by version. Subdirectories and
    /// hidden files are ignored; any other file must be `NNNN_name.sql`.
    public func migrations() throws(MigrationError) -> [Migration] {
        let entries: [URL]
        do {
            entries = try FileManager.default.contentsOfDirectory(
                at: directory, includingPropertiesForKeys: [.isDirectoryKey], options: [.skipsHiddenFiles])
        } catch {
            throw .directoryUnreadable(path: directory.path, reason: Self.reason(error))
        }
        var migrations: [Migration] = []
        for url in entries {
            if (try? url.resourceValues(forKeys: [.isDirectoryKey]).isDirectory) == true { continue }
            let fileName = url.lastPathComponent
            guard let parsed = Self.parseFileName(fileName) else { throw .invalidFileName(fileName) }
            let bytes: Data
            do {
                bytes = try Data(contentsOf: url)
            } catch {
                throw .directoryUnreadable(path: url.path, reason: Self.reason(error))
            }
            guard let sql = String(validating: bytes, as: UTF8.self) else { throw .notUTF8(fileName: fileName) }
            migrations.append(Migration(version: parsed.version, name: parsed.name, fileName: fileName, sql: sql))
        }
        migrations.sort { ($0.version, $0.fileName) < ($1.version, $1.fileName) }
        for (previous, next) in zip(migrations, migrations.dropFirst()) where previous.version == next.version {
            let files = migrations.filter { $0.version == next.version }.map(\.fileName)
            throw .duplicateVersion(next.version, files: files)
        }
        return migrations
    }

    /// `0007_add_index.sql` → (7, "add_index").
    static func parseFileName(_ fileName: String) -> (version: Int, name: String)? {
        let utf8 = Array(fileName.utf8)
        guard utf8.count > 9, fileName.hasSuffix(".sql"), utf8[4] == UInt8(ascii: "_"),
              utf8[0..<4].allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return nil }
        let nameBytes = utf8[5..<(utf8.count - 4)]
        guard !nameBytes.isEmpty, nameBytes.allSatisfy({ byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }) else { return nil }
        return (Int(String(decoding: utf8[0..<4], as: UTF8.self))!, String(decoding: nameBytes, as: UTF8.self))
    }

    // MARK: - Database

    /// Files not applied yet, in order. Throws if an applied file changed or
    /// a pending file sorts before an applied one. Read-only.
    public func pending(on connection: PostgresConnection) throws -> [Migration] {
        let files = try migrations()
        let applied = try Self.appliedMigrations(on: connection)
        try Self.verify(files, against: applied)
        return files.filter { applied[$0.version] == nil }
    }

    /// Every file and every recorded migration, by version. Read-only; reports
    /// changed and missing files instead of throwing.
    public func status(on connection: PostgresConnection) throws -> [MigrationStatus] {
        let files = try migrations()
        let applied = try Self.appliedMigrations(on: connection)
        var statuses = files.map { file -> MigrationStatus in
            guard let record = applied[file.version] else {
                return MigrationStatus(version: file.version, name: file.name, state: .pending)
            }
            let state: MigrationStatus.State = record.checksum == file.checksum
                ? .applied(at: record.appliedAt) : .checksumMismatch(appliedAt: record.appliedAt)
            return MigrationStatus(version: file.version, name: file.name, state: state)
        }
        let fileVersions = Set(files.map(\.version))
        for (version, record) in applied where !fileVersions.contains(version) {
            statuses.append(MigrationStatus(version: version, name: record.name, state: .missingFile(appliedAt: record.appliedAt)))
        }
        return statuses.sorted { $0.version < $1.version }
    }

    /// Applies every pending file and returns those applied by this call
    /// (empty when the database was up to date). Stops at the first failure;
    /// files applied before it stay applied.
    @discardableResult
    public func apply(on connection: PostgresConnection, logger: Logger? = nil) throws -> [Migration] {
        let files = try migrations()
        try connection.withTransaction { transaction in
            try transaction.query("SELECT pg_advisory_xact_lock($1::bigint)", Self.advisoryLockKey)
            try transaction.executeScript(Self.createTableSQL)
        }
        var appliedNow: [Migration] = []
        for migration in files {
            let didApply = try connection.withTransaction { transaction -> Bool in
                try transaction.query("SELECT pg_advisory_xact_lock($1::bigint)", Self.advisoryLockKey)
                let applied = try Self.appliedMigrations(on: transaction)
                try Self.verify(files, against: applied)
                guard applied[migration.version] == nil else { return false }
                do {
                    try transaction.executeScript(migration.sql)
                } catch let error as PostgresError {
                    throw MigrationError.failed(fileName: migration.fileName, error: error)
                }
                guard transaction.transactionStatus == .inTransaction else {
                    throw MigrationError.fileEndedTransaction(fileName: migration.fileName)
                }
                try transaction.query(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version, migration.name, migration.checksum)
                return true
            }
            if didApply {
                appliedNow.append(migration)
                logger?.info("applied migration", metadata: [
                    LogKey.migration: "\(migration.fileName)", LogKey.directory: "\(directory.path)",
                ])
            }
        }
        return appliedNow
    }

    static let createTableSQL = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version     integer PRIMARY KEY,
            name        text NOT NULL,
            checksum    text NOT NULL,
            applied_at  timestamptz NOT NULL DEFAULT now()
        )
        """

    private struct AppliedMigration {
        let name: String
        let checksum: String
        let appliedAt: Date
    }

    private static func appliedMigrations(on connection: PostgresConnection) throws -> [Int: AppliedMigration] {
        let exists = try connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL")
            .singleRow().decode(0, as: Bool.self)
        guard exists else { return [:] }
        var applied: [Int: AppliedMigration] = [:]
        for row in try connection.query("SELECT version, name, checksum, applied_at FROM schema_migrations").rows {
            applied[try row.decode("version")] = AppliedMigration(
                name: try row.decode("name"), checksum: try row.decode("checksum"), appliedAt: try row.decode("applied_at"))
        }
        return applied
    }

    private static func verify(_ files: [Migration], against applied: [Int: AppliedMigration]) throws(MigrationError) {
        let latestApplied = applied.keys.max() ?? 0
        for file in files {
            if let record = applied[file.version] {
                guard record.checksum == file.checksum else {
                    throw .checksumMismatch(version: file.version, fileName: file.fileName,
                                            recorded: record.checksum, current: file.checksum)
                }
            } else if file.version < latestApplied {
                throw .outOfOrder(fileName: file.fileName, latestApplied: latestApplied)
            }
        }
    }

    private static func reason(_ error: any Error) -> String {
        (error as? CocoaError)?.localizedDescription ?? "\(error)"
    }
}
