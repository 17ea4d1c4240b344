import ArgumentParser
import BenchReport
import Foundation
import ServiceSupport

struct Setup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Records the run's settings, command, machine and versions; fails unless durability is on everywhere.")
    @OptionGroup var record: RunOptions
    @Option(help: "The environment variables set when the script started, space-separated (they make up the command).")
    var given: String
    @Option(help: "`swift --version`'s first line.") var swift: String
    @Option(help: "librabbitmq's package version.") var librabbitmq: String
    @Option(help: "The commit, as it should read.") var commit: String
    @Option(help: "GET /api/overview of the management API, saved.") var overview: String
    @Option(name: .customLong("orders-queue"), help: "GET /api/queues/%2F/<orders queue>, saved.") var ordersQueue: String

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let database = try BenchDatabase()
        defer { database.orders.close() }
        func show(_ name: String) throws -> String { try database.orders.query("SHOW \(name)").singleRow().decode(0, as: String.self) }
        var machine = Figures.Machine()
        (machine.fsync, machine.synchronousCommit) = (try show("fsync"), try show("synchronous_commit"))
        (machine.fullPageWrites, machine.walSyncMethod, machine.postgresVersion) = (try show("full_page_writes"), try show("wal_sync_method"), try show("server_version"))
        print("postgres: fsync=\(machine.fsync) synchronous_commit=\(machine.synchronousCommit) full_page_writes=\(machine.fullPageWrites) wal_sync_method=\(machine.walSyncMethod)")
        guard machine.fsync == "on" else { throw BenchReportError("fsync is off: the figures would not be durable ones") }
        guard machine.synchronousCommit == "on" else { throw BenchReportError("synchronous_commit is \(machine.synchronousCommit), not on") }

        let broker = try JSONSerialization.jsonObject(with: Data(readText(overview).utf8)) as? [String: Any] ?? [:]
        machine.rabbitMQVersion = broker["rabbitmq_version"] as? String ?? "?"
        machine.erlangVersion = broker["erlang_version"] as? String ?? "?"
        let queue = try JSONSerialization.jsonObject(with: Data(readText(ordersQueue).utf8)) as? [String: Any] ?? [:]
        let queueType = "\(queue["type"] as? String ?? "?") \(queue["durable"] as? Bool == true ? "durable" : "transient")"
        print("\(queue["name"] as? String ?? "orders queue"): \(queueType)")
        guard queueType == "quorum durable" else { throw BenchReportError("the orders queue is not a durable quorum queue") }

        machine.swiftVersion = swift.range(of: #"Swift version [^ ]+"#, options: .regularExpression).map { String(swift[$0]) } ?? swift
        machine.librabbitmqVersion = librabbitmq
        machine.commit = commit
        machine.cores = ProcFS.cores
        machine.cpuModel = ProcFS.read("/proc/cpuinfo")?.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1).last!.trimmingCharacters(in: .whitespaces) } ?? "?"
        if let kilobytes = ProcFS.read("/proc/meminfo")?.split(separator: "\n").first(where: { $0.hasPrefix("MemTotal") })?
            .split(separator: " ").dropFirst().first.flatMap({ Double($0) })
        {
            machine.memory = String(format: "%.1f GiB", kilobytes / 1_048_576)
        }
        machine.os = ProcFS.read("/etc/os-release")?.split(separator: "\n").first { $0.hasPrefix("PRETTY_NAME=") }
            .map { $0.dropFirst("PRETTY_NAME=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) } ?? "?"
        machine.kernel = ProcFS.read("/proc/sys/kernel/osrelease")?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
        print("rabbitmq \(machine.rabbitMQVersion) (erlang \(machine.erlangVersion)), postgresql \(machine.postgresVersion), \(machine.swiftVersion), librabbitmq \(machine.librabbitmqVersion)")
        print("\(machine.cores) cores (\(machine.cpuModel)), \(machine.memory), \(machine.os), kernel \(machine.kernel)")

        try record.update { figures in
            figures.machine = machine
            figures.settings = environment.filter { $0.key.hasPrefix("BENCH_") || $0.key == "LOG_LEVEL" }
            figures.command = BenchCommandLine.text(given: given.split(separator: " ").map(String.init), environment: environment)
            let format = DateFormatter()
            format.dateFormat = "yyyy-MM-dd HH:mm 'UTC'"
            format.timeZone = TimeZone(identifier: "UTC")
            figures.startedAt = format.string(from: Date())
        }
    }
}

struct Rows: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The bench's rows: create products, set stock, delete orders or everything, vacuum.",
        subcommands: [Create.self, SetStock.self, DeleteOrders.self, DeleteAll.self, Vacuum.self])

    /// The vendor databases the rows are about: BENCH_VENDOR from VENDOR_DATABASE_URLS, or those named.
    struct VendorOptions: ParsableArguments {
        @Option(help: "The vendor that stocks the bench products (BENCH_VENDOR), or several, comma-separated.")
        var vendors: String

        func resolve() throws -> [(name: String, url: String)] {
            let known = try BenchDatabase.vendorURLs()
            return try vendors.split(separator: ",").map { name in
                guard let vendor = known.first(where: { $0.name == name }) else {
                    throw BenchReportError("VENDOR_DATABASE_URLS has no \(name)")
                }
                return vendor
            }
        }
    }

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Creates or restocks products <prefix>0001… at the vendors.")
        @OptionGroup var vendors: VendorOptions
        @Option var prefix: String
        @Option var products: Int
        @Option var stock: Int
        @Option(help: "The products' name.") var name = "bench"

        func run() throws {
            guard prefix.hasPrefix("bench-") else { throw ValidationError("bench product ids start with bench-") }
            let database = try BenchDatabase()
            try database.createProducts(prefix: prefix, count: products, stock: stock, vendors: try vendors.resolve(), name: name)
        }
    }

    struct SetStock: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-stock", abstract: "Sets the stock of the bench rows matching a LIKE pattern; fails if some are missing.")
        @Option var pattern: String
        @Option var stock: Int
        @Option(help: "How many rows must match (another run may have deleted them).") var expect: Int

        func run() throws {
            let rows = try BenchDatabase().setStock(pattern: pattern, stock: stock)
            guard rows == expect else {
                throw BenchReportError("bench stock rows are missing: \(rows) of \(expect) for \(pattern) (did another run delete them?)")
            }
        }
    }

    struct DeleteOrders: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "delete-orders", abstract: "Deletes every order about a bench product.")
        func run() throws { try BenchDatabase().deleteOrders() }
    }

    struct DeleteAll: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "delete-all", abstract: "Deletes every bench row in ordersdb and in every vendor database of VENDOR_DATABASE_URLS.")
        func run() throws {
            let started = Date()
            try BenchDatabase().deleteAll(vendors: try BenchDatabase.vendorURLs())
            print(String(format: "bench rows deleted in %.1f s", Date().timeIntervalSince(started)))
        }
    }

    struct Vacuum: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "VACUUM (ANALYZE) of the tables the bench writes.")
        func run() throws { try BenchDatabase().vacuum() }
    }
}

struct Vendors: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Vendor databases of the run's own (bench_vendor_N) on DATABASE_URL's server.",
        subcommands: [Create.self, Drop.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Creates bench_vendor_1…N (empty) and prints VENDOR_DATABASE_URLS naming them bench-vendor-1…N.")
        @Option var count: Int

        func run() throws {
            let url = EnvironmentConfiguration().databaseURL
            let database = try BenchDatabase()
            defer { database.orders.close() }
            var entries: [String] = []
            for number in 1...count {
                let name = "bench_vendor_\(number)"
                try database.orders.executeScript("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
                try database.orders.executeScript("CREATE DATABASE \(name)")
                entries.append("bench-vendor-\(number)=" + Self.url(url, database: name))
            }
            print(entries.joined(separator: ","))
        }

        /// `url` with its database name replaced.
        static func url(_ url: String, database: String) -> String {
            let (base, query) = url.firstIndex(of: "?").map { (String(url[..<$0]), String(url[$0...])) } ?? (url, "")
            guard let slash = base.lastIndex(of: "/") else { return url }
            return base[...slash] + database + query
        }
    }

    struct Drop: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Drops every bench_vendor_* database.")

        func run() throws {
            let database = try BenchDatabase()
            defer { database.orders.close() }
            let names = try database.orders.query("SELECT datname FROM pg_database WHERE datname LIKE 'bench\\_vendor\\_%'").rows
                .map { try $0.decode(0, as: String.self) }
            for name in names {
                try database.orders.executeScript("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
                print("dropped=\(name)")
            }
        }
    }
}
