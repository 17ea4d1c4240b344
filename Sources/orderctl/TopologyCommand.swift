import Admin
import ArgumentParser
import Foundation

struct TopologyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topology",
        abstract: "Declare, verify or export the broker's queues.",
        subcommands: [Declare.self, Verify.self, Export.self]
    )

    struct Declare: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Declare every queue (idempotent).")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await runReporting {
                let report = try await TopologyAdmin(amqpURL: global.amqpURL).declare()
                print(report.render(global.output))
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List queues that are missing or whose live arguments differ from the code (exit 1 if any).")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await runReporting {
                let (report, mismatches) = try await TopologyAdmin(amqpURL: global.amqpURL).verify()
                print(report.render(global.output))
                if !mismatches.isEmpty { throw ExitCode(ExitStatus.failure) }
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the broker definitions (rabbitmq/definitions.json) generated from the code.")
        @Option(name: .customLong("output-file"), help: "Write to this file instead of standard output.")
        var outputFile: String?

        func run() async throws {
            let json = TopologyAdmin(amqpURL: "").export()
            if let outputFile {
                try Data(json.utf8).write(to: URL(fileURLWithPath: outputFile), options: .atomic)
            } else {
                print(json, terminator: "")
            }
        }
    }
}
