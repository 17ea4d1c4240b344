extension DependencyUnavailable {
    /// The name every worker reports the orders database by (`ordersdb`).
    public static let ordersDatabase = "ordersdb"

    /// The orders database is away; `detail` says why (a `PostgresError`'s `reason`).
    public static func ordersDatabase(_ detail: String) -> DependencyUnavailable {
        DependencyUnavailable(dependency: ordersDatabase, detail: detail)
    }
}
