/// The command a run was started with, for the report: `scripts/bench` preceded
/// by the settings given in its environment that change what is measured.
public enum BenchCommandLine {
    /// `given` are the names set when the script started (its own defaults are not).
    public static func text(given: [String], environment: [String: String]) -> String {
        let relevant = given.filter { name in
            name == "ORDERS_STATE_DIR" || name == "DB_POOL_SIZE" || name == "LOG_LEVEL"
                || ["BENCH_", "WORKER_", "VENDOR_SYNC_"].contains { name.hasPrefix($0) }
        }
        // ORDERS_STATE_DIR first, then by name.
        let words = relevant.sorted { ($0 == "ORDERS_STATE_DIR" ? 0 : 1, $0) < ($1 == "ORDERS_STATE_DIR" ? 0 : 1, $1) }
            .compactMap { name -> String? in
                guard let value = environment[name], !value.isEmpty, name != "LOG_LEVEL" || value != "info" else { return nil }
                return "\(name)=\(value)"
            }
        return (words + ["scripts/bench"]).joined(separator: " ")
    }
}
