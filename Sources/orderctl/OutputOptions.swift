import Admin
import ArgumentParser

/// `--output`: how a command prints its result (and, for json, its errors).
struct OutputOptions: ParsableArguments {
    @Option(name: .customLong("output"), help: "table or json.")
    var format: OutputFormat = .table

    /// Whether raw arguments ask for JSON, for errors found before they are parsed.
    static func requestedJSON(_ arguments: [String]) -> Bool {
        zip(arguments, arguments.dropFirst()).contains { $0 == "--output" && $1 == "json" } || arguments.contains("--output=json")
    }
}

extension OutputFormat: ExpressibleByArgument {}
