import ArgumentParser
import ServiceSupport

/// `--database-url`, for the commands that read or write ordersdb.
struct DatabaseOptions: ParsableArguments {
    // No declared default: --help would print the environment's value, password included.
    @Option(name: .customLong("database-url"), help: "ordersdb URL (default: $DATABASE_URL or \(Defaults.databaseURL)).")
    var databaseURLOption: String?

    var databaseURL: String { databaseURLOption ?? EnvironmentConfiguration().databaseURL }
}
