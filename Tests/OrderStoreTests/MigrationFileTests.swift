import Foundation
@testable import OrderStore
import Testing

/// Reading and ordering migration files, without a database.
@Suite("Migration files")
struct MigrationFileTests {
    @Test(arguments: [
        ("0001_initial.sql", 1, "initial"),
        ("0042_add-index_2.sql", 42, "add-index_2"),
        ("9999_X.sql", 9999, "X"),
    ])
    func validNames(fileName: String, version: Int, name: String) throws {
        let parsed = try #require(MigrationRunner.parseFileName(fileName))
        #expect(parsed.version == version)
        #expect(parsed.name == name)
    }

    @Test(arguments: ["001_short.sql", "00001_long.sql", "0001-dash.sql", "0001_.sql", "0001_initial.SQL",
                      "0001_initial.sql.bak", "initial.sql", "0001_with space.sql", "README.md", "000a_x.sql", "0001_é.sql"])
    func invalidNames(fileName: String) {
        #expect(MigrationRunner.parseFileName(fileName) == nil)
    }

    /// The checksum `schema_migrations` records: SHA-256 (FIPS 180-4 vectors), lower-case hex.
    @Test func sha256KnownVectors() {
        #expect(Migration.checksum(of: "") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Migration.checksum(of: "abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Migration.checksum(of: "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(Migration.checksum(of: String(repeating: "a", count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func filesAreSortedByVersionAndOthersIgnored() throws {
        let directory = try TemporaryDirectory()
        try directory.write("0010_ten.sql", "SELECT 10;")
        try directory.write("0002_two.sql", "SELECT 2;")
        try directory.write("0001_one.sql", "SELECT 1;")
        try directory.write(".hidden.sql", "nope")
        try FileManager.default.createDirectory(at: directory.url.appendingPathComponent("vendor"), withIntermediateDirectories: true)
        let migrations = try MigrationRunner(directory: directory.url).migrations()
        #expect(migrations.map(\.version) == [1, 2, 10])
        #expect(migrations.map(\.fileName) == ["0001_one.sql", "0002_two.sql", "0010_ten.sql"])
        #expect(migrations[0].sql == "SELECT 1;")
        #expect(migrations[0].checksum == "17db4fd369edb9244b9f91d9aeed145c3d04ad8ba6e95d06247f07a63527d11a")
        #expect(migrations[0].checksum != migrations[1].checksum)
    }

    @Test func aBadFileNameIsAnErrorNamingTheFile() throws {
        let directory = try TemporaryDirectory()
        try directory.write("0001_one.sql", "SELECT 1;")
        try directory.write("2_two.sql", "SELECT 2;")
        let error = #expect(throws: MigrationError.self) { try MigrationRunner(directory: directory.url).migrations() }
        #expect(error?.description.contains("\"2_two.sql\"") == true)
    }

    @Test func duplicateVersionsAreAnError() throws {
        let directory = try TemporaryDirectory()
        try directory.write("0001_one.sql", "SELECT 1;")
        try directory.write("0001_uno.sql", "SELECT 1;")
        let error = #expect(throws: MigrationError.self) { try MigrationRunner(directory: directory.url).migrations() }
        #expect(error?.description.contains("0001_one.sql, 0001_uno.sql") == true)
    }

    @Test func aMissingDirectoryIsAnError() {
        let runner = MigrationRunner(directory: URL(fileURLWithPath: "/nonexistent/\(UUID())"))
        #expect(throws: MigrationError.self) { try runner.migrations() }
    }

    @Test func defaultDirectoryComesFromTheEnvironment() {
        #expect(MigrationRunner.defaultDirectory(environment: [:], currentDirectory: "/srv/app").path == "/srv/app/migrations")
        #expect(MigrationRunner.defaultDirectory(environment: ["MIGRATIONS_DIR": "/opt/sql"], currentDirectory: "/srv/app").path == "/opt/sql")
        #expect(MigrationRunner.defaultDirectory(environment: ["MIGRATIONS_DIR": "db/m"], currentDirectory: "/srv/app").path == "/srv/app/db/m")
        #expect(MigrationRunner.defaultDirectory(environment: ["MIGRATIONS_DIR": ""], currentDirectory: "/srv/app").path == "/srv/app/migrations")
        let runners = MigrationRunner.runners(environment: ["MIGRATIONS_DIR": "/opt/sql"])
        #expect(runners.orders.directory.path == "/opt/sql")
        #expect(runners.vendor.directory.path == "/opt/sql/vendor")
    }
}

/// A directory under the system temporary directory, removed on deinit.
final class TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("migrations-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func write(_ fileName: String, _ contents: String) throws {
        try Data(contents.utf8).write(to: url.appendingPathComponent(fileName))
    }

    func remove(_ fileName: String) throws {
        try FileManager.default.removeItem(at: url.appendingPathComponent(fileName))
    }

    /// Copies the `.sql` files of `source` (not its subdirectories).
    func copySQLFiles(from source: URL) throws {
        for file in try FileManager.default.contentsOfDirectory(at: source, includingPropertiesForKeys: nil)
        where file.pathExtension == "sql" {
            try FileManager.default.copyItem(at: file, to: url.appendingPathComponent(file.lastPathComponent))
        }
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }
}
