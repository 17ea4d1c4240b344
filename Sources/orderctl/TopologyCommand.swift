import Admin
import ArgumentParser
import Foundation
import ServiceSupport
import Topology

struct TopologyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topology",
        abstract: "Declare, verify or export the broker's queues.",
        subcommands: [Declare.self, Verify.self, Export.self]
    )

    struct Declare: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Declare every queue (idempotent).",
            discussion: """
                A queue that exists with other arguments is refused (exit 1) and named. A dead-letter queue in that \
                state can be recreated: with --recreate-empty-dead-letter-queues, one that holds no message and has \
                no consumer is deleted and declared with the code's arguments. Stop the workers first: RabbitMQ 3.x \
                quorum queues cannot be deleted "if empty", so a message dead-lettered between the check and the \
                delete would be lost. A dead-letter queue that holds messages is left alone; the error says how to \
                keep them (dlq export --remove, declare, dlq import).
                """)
        @OptionGroup var broker: BrokerOptions
        @OptionGroup var topology: TopologyOptions
        @OptionGroup var output: OutputOptions
        @Flag(name: .customLong("recreate-empty-dead-letter-queues"), help: "Delete and declare again an empty dead-letter queue whose arguments differ.")
        var recreateEmptyDeadLetterQueues = false

        func run() async throws {
            try await runReporting(output.format) {
                let report = try await TopologyAdmin(amqpURL: broker.amqpURL, topology: try topology.topology).declare(recreateEmptyDeadLetterQueues: recreateEmptyDeadLetterQueues)
                print(report.render(output.format))
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List every queue with its ready messages and consumers, and those missing or whose arguments differ from the code (exit 1 if any).",
            discussion: """
                Bindings are read from the broker's management API (AMQP cannot check one without making it): \
                --management-url, else $RABBITMQ_MANAGEMENT_URL, else \(Defaults.rabbitMQManagementURL.replacingOccurrences(of: "guest:guest@", with: "")) \
                as guest. A missing binding is a mismatch; an API that does not answer leaves them unchecked.
                """)
        @OptionGroup var broker: BrokerOptions
        @OptionGroup var topology: TopologyOptions
        @OptionGroup var output: OutputOptions
        // No declared default: --help would print the environment's value, password included.
        @Option(name: .customLong("management-url"), help: "The broker's management API, http://user:password@host:port.")
        var managementURL: String?

        func run() async throws {
            try await runReporting(output.format) {
                let management = managementURL ?? EnvironmentConfiguration().string(.rabbitMQManagementURL, default: Defaults.rabbitMQManagementURL)
                let (report, mismatches) = try await TopologyAdmin(
                    amqpURL: broker.amqpURL, topology: try topology.topology, managementURL: management
                ).verify()
                print(report.render(output.format))
                if !mismatches.isEmpty { throw ExitCode(ExitStatus.failure) }
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the broker definitions generated from the code (what rabbitmq/definitions.json holds).",
            discussion: """
                Prints them on standard output, or writes --file: `orderctl topology export --file rabbitmq/definitions.json`; \
                a three-node cluster's: `orderctl topology export --quorum-initial-group-size 3 --file rabbitmq/cluster-definitions.json`.
                """)
        @Option(name: .customLong("file"), help: "Write to this file (replaced atomically) instead of standard output.")
        var file: String?

        @Option(name: .customLong("quorum-initial-group-size"), help: "Replicas of each queue, for a cluster's definitions (default: none named).")
        var quorumInitialGroupSize: Int?

        func validate() throws { try TopologyOptions.check(quorumInitialGroupSize: quorumInitialGroupSize) }

        func run() async throws {
            try await runReporting(.table) {
                let json = TopologyAdmin(amqpURL: "", topology: Topology(quorumInitialGroupSize: quorumInitialGroupSize)).export()
                if let file {
                    do {
                        try Data(json.utf8).write(to: URL(fileURLWithPath: file), options: .atomic)
                    } catch {
                        throw AdminError("cannot write \(file): \(error.localizedDescription)")
                    }
                } else {
                    print(json, terminator: "")
                }
            }
        }
    }
}
