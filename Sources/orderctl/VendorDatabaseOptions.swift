import Admin
import ArgumentParser
import ServiceSupport

/// `--vendor-database-urls`, for the commands that work on the vendor databases.
struct VendorDatabaseOptions: ParsableArguments {
    // No declared default: --help would print the environment's value, passwords included.
    @Option(name: .customLong("vendor-database-urls"), help: "vendor=url,… (default: $VENDOR_DATABASE_URLS or the local vendoradb and vendorbdb).")
    var vendorDatabaseURLsOption: String?

    func vendorURLs() throws -> [(name: String, url: String)] {
        do {
            let environment = EnvironmentConfiguration()
            guard let option = vendorDatabaseURLsOption else { return try environment.vendorDatabaseURLs() }
            return try EnvironmentConfiguration(environment.values.merging(["VENDOR_DATABASE_URLS": option]) { $1 }).vendorDatabaseURLs()
        } catch {
            throw AdminError("\(error)")
        }
    }
}
