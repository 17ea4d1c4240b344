import Foundation
import Testing
import TestSupport
import Topology
import Yams

/// compose.yaml, the Dockerfile, CI's entry point and the README's two commands,
/// checked by reading them: there is no Docker engine on the development machines.
@Suite("Deployment files")
struct ComposeTests {
    /// The long-running processes, each a compose service of the same name.
    static let daemons = [
        "order-api", "order-worker", "vendor-sync-worker", "payment-worker", "stock-sync", "fulfilment-worker", "channel-sync", "order-console",
    ]

    // MARK: Services

    @Test func everyServiceExists() throws {
        let services = try Self.services()
        for name in ["rabbitmq", "postgres", "migrate"] + Self.daemons {
            #expect(services[name] != nil, "compose.yaml has no service \(name)")
        }
    }

    @Test func builtServicesSelectAnExecutableOfThePackage() throws {
        let services = try Self.services()
        let targets = try Self.executableTargets()
        let built = services.filter { $0.value["build"] != nil }
        #expect(!built.isEmpty)
        for (name, service) in built {
            let build = try #require(mapping(service["build"]), "\(name): build must be a mapping with args")
            #expect(build["context"] as? String == ".", "\(name) builds from the repository root")
            #expect((build["dockerfile"] as? String ?? "Dockerfile") == "Dockerfile", "\(name) builds from Dockerfile")
            let executable = try #require(mapping(build["args"])?["EXECUTABLE"] as? String,
                                          "\(name) sets no EXECUTABLE build arg")
            #expect(targets.contains(executable), "\(name) runs \(executable), which is no executableTarget in Package.swift")
        }
        for daemon in Self.daemons {
            #expect(Self.executable(of: services[daemon]) == daemon, "service \(daemon) must run the executable \(daemon)")
        }
        #expect(Self.executable(of: services["migrate"]) == "orderctl")
    }

    @Test func everyExecutableTargetRunsInCompose() throws {
        let services = try Self.services()
        let selected = Set(services.values.compactMap { Self.executable(of: $0) })
        // bench-* are the benchmark's harnesses (scripts/bench): tools, not services.
        for target in try Self.executableTargets() where !target.hasPrefix("bench-") {
            #expect(selected.contains(target), "no compose service runs the executable target \(target)")
        }
    }

    @Test func daemonsStartAfterMigrateAndHealthyInfrastructure() throws {
        let services = try Self.services()
        #expect(try Self.healthcheck(services["rabbitmq"]).contains("rabbitmq-diagnostics -q ping"))
        #expect(try Self.healthcheck(services["postgres"]).contains("pg_isready"))

        let migrate = try #require(services["migrate"])
        #expect(Self.dependencies(of: migrate) == ["rabbitmq": "service_healthy", "postgres": "service_healthy"])
        let command = Self.strings(in: migrate["command"]).joined(separator: " ")
        #expect(command.hasPrefix("orderctl db migrate && orderctl topology declare && "), "\(command)")

        for daemon in Self.daemons {
            let dependencies = Self.dependencies(of: try #require(services[daemon]))
            #expect(dependencies["migrate"] == "service_completed_successfully", "\(daemon): \(dependencies)")
            #expect(dependencies["rabbitmq"] == "service_healthy", "\(daemon): \(dependencies)")
            #expect(dependencies["postgres"] == "service_healthy", "\(daemon): \(dependencies)")
        }
    }

    /// The processes reach the broker and the databases through the compose services:
    /// the broker as the user whose permissions rabbitmq/definitions.json grants, the
    /// databases as orders_app (the daemons) or as their owner, POSTGRES_USER (migrate).
    @Test func processesUseTheComposeServices() throws {
        let services = try Self.services()
        let databases = try Self.postgresDatabases()
        let postgres = try #require(services["postgres"])
        let owner = try #require(Self.environment(of: postgres)["POSTGRES_USER"])
        for (name, service) in services where service["build"] != nil && !Self.inClusterProfile(service) {
            let environment = Self.environment(of: service)
            let amqp = try #require(environment["AMQP_URL"].flatMap(Self.urlComponents), "\(name): AMQP_URL")
            #expect(amqp.scheme == "amqp" && amqp.host == "rabbitmq" && amqp.user == Topology.brokerUser, "\(name): \(amqp)")

            // Interpolations first: a `${VAR:?message}` may hold a comma.
            let vendorURLs = try #require(environment["VENDOR_DATABASE_URLS"], "\(name): VENDOR_DATABASE_URLS")
                .replacing(/\$\{[^}]*\}/, with: "value").split(separator: ",").map { String($0.split(separator: "=", maxSplits: 1).last ?? "") }
            let urls = try [#require(environment["DATABASE_URL"], "\(name): DATABASE_URL")] + vendorURLs
            #expect(urls.count == 3)
            let user = name == "migrate" ? owner : Self.applicationRole
            for url in urls {
                let components = try #require(Self.urlComponents(url), "\(name): \(url)")
                #expect(components.host == "postgres" && components.user == user, "\(name) must connect as \(user): \(url)")
                #expect(databases.contains(String(components.path.dropFirst())), "\(name): \(url) names no database the postgres service creates")
            }
        }
    }

    /// payment-worker pays against the localstripe service unless STRIPE_API_BASE
    /// says otherwise; localstripe knows order-api's webhook endpoint and the
    /// secret order-api verifies its deliveries with.
    @Test func paymentsUseTheLocalstripeService() throws {
        let services = try Self.services()
        let localstripe = try #require(services["localstripe"])
        let command = Self.strings(in: localstripe["command"]).joined(separator: " ")
        #expect(command.contains("localstripe==1.15.10"), "localstripe is pinned: \(command)")
        #expect(command.contains("localstripe --port 8420"), "\(command)")
        #expect(command.contains("http://order-api:\(Self.environment(of: try #require(services["order-api"]))["HTTP_PORT"] ?? "?")/webhooks/stripe"))
        #expect(command.contains("/_config/webhooks/"), "the webhook endpoint is registered")
        let worker = Self.environment(of: try #require(services["payment-worker"]))
        #expect(worker["STRIPE_API_BASE"] == "${STRIPE_API_BASE:-http://localstripe:8420}")
        #expect(worker["STRIPE_SECRET_KEY"]?.hasPrefix("${STRIPE_SECRET_KEY:?") == true)
        let api = Self.environment(of: try #require(services["order-api"]))
        #expect(api["STRIPE_WEBHOOK_SECRET"]?.hasPrefix("${STRIPE_WEBHOOK_SECRET:?") == true)
        #expect(Self.environment(of: localstripe)["STRIPE_WEBHOOK_SECRET"]?.hasPrefix("${STRIPE_WEBHOOK_SECRET:?") == true)
        #expect(Self.publishedPorts(of: localstripe).isEmpty)
    }

    /// order-api verifies Shopify's order webhooks with the secret the
    /// environment gives; unset it refuses them, so it is not required.
    @Test func orderAPIIsGivenTheShopifyWebhookSecret() throws {
        let api = Self.environment(of: try #require(try Self.services()["order-api"]))
        #expect(api["SHOPIFY_WEBHOOK_SECRET"] == "${SHOPIFY_WEBHOOK_SECRET:-}")
        #expect(try Self.text("compose.dev.env").contains("\nSHOPIFY_WEBHOOK_SECRET="), "the development stack takes Shopify webhooks")
    }

    // MARK: Broker and database

    /// A supported broker (4.x; the topology also holds on 3.10, which the tests run)
    /// that loads, in name order, the users compose writes and then the definitions
    /// exported from the Topology module.
    @Test func rabbitmqLoadsTheUsersAndTheDefinitionsFile() throws {
        let rabbitmq = try #require(try Self.services()["rabbitmq"])
        #expect((rabbitmq["image"] as? String)?.hasPrefix("rabbitmq:4") == true, "\(rabbitmq["image"] ?? "no image")")
        #expect((rabbitmq["image"] as? String)?.hasSuffix("-management") == true)

        let mounts = Self.bindMounts(of: rabbitmq)
        let conf = try #require(mounts.first { $0.key.hasPrefix("/etc/rabbitmq/conf.d/") && $0.key.hasSuffix(".conf") },
                                "rabbitmq mounts no .conf file: \(mounts)")
        let settings = Dictionary(try Self.text(conf.value).split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { line -> (String, String)? in
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            return parts.count == 2 ? (parts[0], parts[1]) : nil
        }, uniquingKeysWith: { $1 })
        #expect(settings["definitions.import_backend"] == "local_filesystem", "\(conf.value): \(settings)")
        let directory = try #require(settings["definitions.local.path"], "\(conf.value) sets no definitions.local.path")

        let topologyFile = try #require(mounts.first { $0.value == "./rabbitmq/definitions.json" }?.key,
                                        "rabbitmq does not mount rabbitmq/definitions.json: \(mounts)")
        let usersFile = try #require(Self.configTargets(of: rabbitmq)["rabbitmq-users"], "rabbitmq does not mount the users config")
        let topology = URL(fileURLWithPath: topologyFile)
        let users = URL(fileURLWithPath: usersFile)
        #expect(topology.deletingLastPathComponent().path == directory, "\(topologyFile) is not in \(directory)")
        #expect(users.deletingLastPathComponent().path == directory, "\(usersFile) is not in \(directory)")
        // The broker imports the files in name order; the permissions need the user.
        #expect(users.lastPathComponent < topology.lastPathComponent, "\(usersFile) is loaded after \(topologyFile)")
    }

    /// The broker's user comes from compose (its password from RABBITMQ_PASSWORD, in
    /// production and in compose.dev.yaml alike), its permissions from the definitions
    /// file: on the topology's queues only, and without any password in the repository.
    @Test func composeCreatesTheBrokerUserTheDefinitionsGrant() throws {
        for file in ["compose.yaml", "compose.dev.yaml"] {
            let configs = try #require(mapping(try Self.compose(file)["configs"]), "\(file) has no configs")
            let content = try #require(mapping(configs["rabbitmq-users"])?["content"] as? String, "\(file): no rabbitmq-users content")
            #expect(content.contains("\"password\": \"${RABBITMQ_PASSWORD:?"), "\(file): \(content)")
            let json = content.replacing(/\$\{[A-Z_]+:\?[^}]*\}/, with: "secret")
            let definitions = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], "\(file): \(json)")
            let users = definitions["users"] as? [[String: Any]] ?? []
            #expect(users.map { $0["name"] as? String } == [Topology.brokerUser], "\(file): \(users)")
            #expect(users.allSatisfy { !(($0["tags"] as? [String] ?? []).contains("administrator")) }, "\(file): \(users)")
        }

        let data = try Data(contentsOf: TestEnvironment.repositoryRoot.appendingPathComponent("rabbitmq/definitions.json"))
        let definitions = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect((definitions["users"] as? [Any] ?? []).isEmpty, "rabbitmq/definitions.json must not hold users: their passwords would be committed")
        let permissions = definitions["permissions"] as? [[String: Any]] ?? []
        let granted = try #require(permissions.first { $0["user"] as? String == Topology.brokerUser && $0["vhost"] as? String == "/" },
                                   "\(Topology.brokerUser) has no permissions on vhost /")
        for kind in ["configure", "write", "read"] {
            let pattern = try #require(granted[kind] as? String)
            #expect(pattern != ".*" && !pattern.isEmpty, "\(kind) is not limited: \(pattern)")
        }
    }

    @Test func postgresCreatesTheThreeDatabases() throws {
        let postgres = try #require(try Self.services()["postgres"])
        let image = try #require(postgres["image"] as? String)
        let major = try #require(image.firstMatch(of: /^postgres:(\d+)/).flatMap { Int($0.output.1) }, "\(image)")
        #expect(major >= 15, "\(image): PostgreSQL 15 or later")
        let environment = Self.environment(of: postgres)
        #expect(environment["POSTGRES_USER"] == "orders")
        #expect(try Self.postgresDatabases() == ["ordersdb", "vendoradb", "vendorbdb"])
    }

    /// The daemons' role: created by an init script with a password from the
    /// environment, allowed to connect to each database and to read and write rows
    /// (those of tables the migrations create later too), and nothing more.
    @Test func postgresCreatesTheLeastPrivilegedApplicationRole() throws {
        let postgres = try #require(try Self.services()["postgres"])
        let initDirectory = try #require(Self.bindMounts(of: postgres)["/docker-entrypoint-initdb.d"])
        let relative = String(initDirectory.drop { $0 == "." || $0 == "/" })
        let scripts = try FileManager.default.contentsOfDirectory(atPath: TestEnvironment.repositoryRoot.appendingPathComponent(relative).path)
            .sorted().map { try Self.text("\(relative)/\($0)") }.joined(separator: "\n")
        let role = Self.applicationRole
        #expect(scripts.contains("CREATE ROLE \(role) LOGIN PASSWORD :'app_password'"), "no init script creates \(role) with a password")
        #expect(!scripts.contains(/(?i)CREATE\s+ROLE\s+\w+\s+[^;]*(SUPERUSER|CREATEDB|CREATEROLE)/))
        for grant in ["GRANT CONNECT ON DATABASE :\"database\" TO \(role)", "GRANT USAGE ON SCHEMA public TO \(role)",
                      "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO \(role)",
                      "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO \(role)", "ALTER DEFAULT PRIVILEGES FOR ROLE"] {
            #expect(scripts.contains(grant), "the init scripts do not \(grant)")
        }
        let granted = try #require(scripts.firstMatch(of: /for database in ([\w ]+); do/), "the grants loop over no databases")
        #expect(Set(granted.output.1.split(separator: " ").map(String.init)) == (try Self.postgresDatabases()),
                "the grants cover \(granted.output.1), not every database")
        let passwordVariable = "POSTGRES_APP_PASSWORD"
        #expect(Self.environment(of: postgres)[passwordVariable]?.hasPrefix("${\(passwordVariable):?") == true)
        #expect(scripts.contains("$\(passwordVariable)"))
    }

    // MARK: The cluster profile

    /// Three RabbitMQ nodes that form one cluster and load the topology with three
    /// replicas per queue; etcd; three Patroni members of one scope in synchronous mode.
    @Test func clusterProfileRunsThreeBrokerNodesEtcdAndThreePatroniMembers() throws {
        let services = try Self.services()
        let conf = try Self.text("rabbitmq/compose-cluster-rabbitmq.conf")
        #expect(conf.contains("cluster_formation.peer_discovery_backend = classic_config"))
        var data: Set<String> = []
        for index in 1...3 {
            let node = try #require(services["rabbitmq-\(index)"], "no rabbitmq-\(index)")
            #expect(Self.profiles(of: node) == ["cluster"])
            #expect((node["image"] as? String)?.hasPrefix("rabbitmq:4") == true)
            let hostname = try #require(node["hostname"] as? String)
            #expect(conf.contains("cluster_formation.classic_config.nodes.\(index) = rabbit@\(hostname)"), "\(conf)")
            let mounts = Self.bindMounts(of: node)
            #expect(mounts["/etc/rabbitmq/definitions.d/10-topology.json"] == "./rabbitmq/cluster-definitions.json", "\(mounts)")
            #expect(mounts.values.contains("./rabbitmq/compose-cluster-rabbitmq.conf"), "\(mounts)")
            #expect(Self.configTargets(of: node)["rabbitmq-erlang-cookie"] == "/var/lib/rabbitmq/.erlang.cookie")
            data.formUnion(Self.strings(in: node["volumes"]).filter { $0.hasSuffix(":/var/lib/rabbitmq") })
            #expect(try Self.healthcheck(node).contains("rabbitmq-diagnostics -q ping"))
        }
        #expect(data.count == 3, "each node keeps its own data: \(data)")

        let etcd = try #require(services["etcd"])
        #expect(Self.profiles(of: etcd) == ["cluster"])
        var scopes: Set<String> = []
        data = []
        for index in 1...3 {
            let member = try #require(services["patroni-\(index)"], "no patroni-\(index)")
            #expect(Self.profiles(of: member) == ["cluster"])
            let environment = Self.environment(of: member)
            scopes.insert(environment["SCOPE"] ?? "")
            let configuration = try #require(mapping(try Yams.load(yaml: environment["SPILO_CONFIGURATION"] ?? "")))
            let dcs = mapping(mapping(configuration["bootstrap"])?["dcs"])
            #expect(dcs?["synchronous_mode"] as? Bool == true, "patroni-\(index): \(configuration)")
            #expect(mapping(configuration["etcd3"])?["hosts"] as? String == "etcd:2379")
            #expect(Self.dependencies(of: member) == ["etcd": "service_healthy"])
            data.formUnion(Self.strings(in: member["volumes"]))
        }
        #expect(scopes == ["orders-cluster"])
        #expect(data.count == 3, "each member keeps its own data: \(data)")
    }

    /// Each daemon has a cluster twin: the same executable and settings, every broker
    /// node in AMQP_URLS and every member in the multi-host database URLs (libpq finds
    /// the primary), started after the cluster's migrate job.
    @Test func clusterDaemonsUseEveryNodeAndEveryMember() throws {
        let services = try Self.services()
        let databases = try Self.postgresDatabases()
        let brokers = ["rabbitmq-1", "rabbitmq-2", "rabbitmq-3"], members = ["patroni-1:5432", "patroni-2:5432", "patroni-3:5432"]
        for daemon in Self.daemons where daemon != "channel-sync" {
            let single = try #require(services[daemon])
            let twin = try #require(services["\(daemon)-cluster"], "no \(daemon)-cluster")
            #expect(Self.profiles(of: twin) == ["cluster"], "\(daemon)-cluster")
            #expect(Self.executable(of: twin) == daemon)
            #expect(try Self.healthcheck(twin) == (try Self.healthcheck(single)))
            let environment = Self.environment(of: twin)
            for (key, value) in Self.environment(of: single) where !["AMQP_URL", "DATABASE_URL", "VENDOR_DATABASE_URLS", "RABBITMQ_MANAGEMENT_URL"].contains(key) {
                #expect(environment[key] == value, "\(daemon)-cluster: \(key)")
            }
            let amqp = try #require(environment["AMQP_URLS"], "\(daemon)-cluster: AMQP_URLS").replacing(/\$\{[^}]*\}/, with: "value")
                .split(separator: ",").map { Self.urlComponents(String($0)) }
            #expect(amqp.map { $0?.host } == brokers && amqp.allSatisfy { $0?.user == Topology.brokerUser }, "\(daemon)-cluster: \(amqp)")
            #expect(environment["QUORUM_INITIAL_GROUP_SIZE"] == "3")
            let vendorURLs = try #require(environment["VENDOR_DATABASE_URLS"]).replacing(/\$\{[^}]*\}/, with: "value")
                .split(separator: /,(?=vendor)/).map { String($0.split(separator: "=", maxSplits: 1).last ?? "") }
            let urls = try [#require(environment["DATABASE_URL"])] + vendorURLs
            #expect(urls.count == 3)
            for url in urls {
                let parsed = try #require(Self.multiHostURL(url), "\(daemon)-cluster: \(url)")
                #expect(parsed.hosts == members && parsed.user == Self.applicationRole, "\(daemon)-cluster: \(url)")
                #expect(parsed.query == "target_session_attrs=read-write", "\(daemon)-cluster: \(url)")
                #expect(databases.contains(parsed.path), "\(daemon)-cluster: \(url)")
            }
            let dependencies = Self.dependencies(of: twin)
            #expect(dependencies["migrate-cluster"] == "service_completed_successfully", "\(daemon)-cluster: \(dependencies)")
            for node in brokers + members.map({ String($0.prefix { $0 != ":" }) }) {
                #expect(dependencies[node] == "service_healthy", "\(daemon)-cluster: \(dependencies)")
            }
            #expect(dependencies["rabbitmq"] == nil && dependencies["postgres"] == nil, "\(daemon)-cluster waits for the single server")
        }
        let migrate = try #require(services["migrate-cluster"])
        #expect(Self.strings(in: migrate["command"]) == Self.strings(in: services["migrate"]?["command"]))
        let environment = Self.environment(of: migrate)
        #expect(environment["QUORUM_INITIAL_GROUP_SIZE"] == "3", "declares the queues as the nodes loaded them")
        #expect(Self.multiHostURL(environment["DATABASE_URL"] ?? "")?.user == "orders", "migrate-cluster runs as the databases' owner")
        #expect(Self.dependencies(of: migrate)["cluster-init"] == "service_completed_successfully")
    }

    // MARK: Production rules

    /// Only the order API is published; the database, the broker and its management
    /// UI are reached on the compose network (compose.dev.yaml publishes them locally).
    @Test func onlyTheAPIIsPublished() throws {
        let services = try Self.services()
        for (name, service) in services {
            let ports = Self.publishedPorts(of: service)
            for infrastructure in [5432, 5672, 15672] {
                #expect(!ports.contains { $0.container == infrastructure }, "\(name) publishes port \(infrastructure)")
            }
            // The cluster profile's order-api runs instead of the default one, on the same port.
            if name == "order-api" || name == "order-api-cluster" {
                #expect(ports.map(\.container) == [8080], "\(name): \(ports)")
            } else {
                #expect(ports.isEmpty, "\(name) publishes \(ports)")
            }
        }
    }

    /// No password in compose.yaml, in the definitions it loads or in a committed
    /// .env: every password and token is `${VAR:?message}` (compose stops when it is
    /// unset) or, for the optional Stock Service token, empty by default.
    @Test func noPasswordIsCommitted() throws {
        let required = /^\$\{[A-Z_][A-Z0-9_]*:\?[^}]+\}$/
        let text = try Self.text("compose.yaml")
        let strings = Self.strings(in: try Yams.load(yaml: text), recursive: true)
        var checked = 0
        for string in strings {
            for match in string.matches(of: /:\/\/[^:\/@\s]+:([^@]*)@/) {
                checked += 1
                #expect(match.output.1.wholeMatch(of: required) != nil, "a URL's password is written out: \(string)")
            }
            for match in string.matches(of: /"password"\s*:\s*"([^"]*)"/) {
                checked += 1
                #expect(match.output.1.wholeMatch(of: required) != nil, "a password is written out: \(string)")
            }
        }
        for (name, service) in try Self.services() {
            for (key, value) in Self.environment(of: service) where key.contains(/PASSWORD|TOKEN|SECRET/) {
                checked += 1
                #expect(value.wholeMatch(of: required) != nil || value.wholeMatch(of: /^\$\{[A-Z_]+:-\}$/) != nil,
                        "\(name): \(key) has a committed value")
            }
        }
        #expect(checked >= 10, "found almost no password to check: is the scanner broken?")
        #expect(!text.contains("password_hash"))
        #expect(!(try Self.text("rabbitmq/definitions.json")).contains("password"), "rabbitmq/definitions.json holds a password")
        #expect(try Self.text(".gitignore").split(separator: "\n").contains(".env"), ".env (production secrets) must stay out of git")
    }

    /// Every long-running service has a healthcheck; the package's daemons are checked
    /// with `orderctl health` (the runtime image has no curl) on what each one serves.
    @Test func everyLongRunningServiceHasAHealthcheck() throws {
        let services = try Self.services()
        for (name, service) in services where !Self.oneShotJobs.contains(name) {
            let healthcheck = mapping(service["healthcheck"])
            let test = Self.strings(in: healthcheck?["test"])
            #expect(test.count >= 2 && test[0] != "NONE" && healthcheck?["disable"] as? Bool != true, "\(name) has no healthcheck")
        }
        let api = Self.environment(of: try #require(services["order-api"]))
        let stockSync = Self.environment(of: try #require(services["stock-sync"]))
        let fulfilment = Self.environment(of: try #require(services["fulfilment-worker"]))
        let console = Self.environment(of: try #require(services["order-console"]))
        let expected = [
            "order-api": "CMD orderctl health --url http://127.0.0.1:\(api["HTTP_PORT"] ?? "?")/health/ready",
            "stock-sync": "CMD orderctl health --url http://127.0.0.1:\(stockSync["STOCK_SYNC_HTTP_PORT"] ?? "?")/health/live",
            "order-worker": "CMD orderctl health --consumers-on \(Topology.standard.orders.main)",
            "vendor-sync-worker": "CMD orderctl health --consumers-on \(Topology.standard.vendorSync.main)",
            "payment-worker": "CMD orderctl health --consumers-on \(Topology.standard.payments.main)",
            "fulfilment-worker": "CMD orderctl health --url http://127.0.0.1:\(fulfilment["FULFILMENT_HTTP_PORT"] ?? "?")/health/live",
            // Nothing to probe (no HTTP, no queue): that its process runs.
            "channel-sync": "CMD-SHELL kill -0 1",
            "order-console": "CMD orderctl health --url http://127.0.0.1:\(console["CONSOLE_HTTP_PORT"] ?? "?")/health/live",
        ]
        for daemon in Self.daemons {
            #expect(try Self.healthcheck(services[daemon]) == expected[daemon], "\(daemon)")
        }
    }

    /// Inside a container, 127.0.0.1 is the container itself: a daemon bound there
    /// is unreachable through its published port and from the other services.
    @Test func daemonsListenOnEveryInterfaceOfTheirContainer() throws {
        let services = try Self.services()
        let api = Self.environment(of: try #require(services["order-api"]))
        #expect(api["HTTP_HOST"] == "0.0.0.0", "order-api: HTTP_HOST=\(api["HTTP_HOST"] ?? "unset (127.0.0.1)")")
        let published = Self.publishedPorts(of: try #require(services["order-api"])).map(\.container)
        #expect(published == [api["HTTP_PORT"].flatMap { Int($0) } ?? -1], "order-api publishes \(published), listens on \(api["HTTP_PORT"] ?? "?")")
        let stockSync = Self.environment(of: try #require(services["stock-sync"]))
        #expect(stockSync["STOCK_SYNC_HTTP_HOST"] == "0.0.0.0", "stock-sync: STOCK_SYNC_HTTP_HOST=\(stockSync["STOCK_SYNC_HTTP_HOST"] ?? "unset (127.0.0.1)")")
    }

    /// Long-running services come back after a crash or a reboot; no service can take
    /// the whole machine's memory or CPU.
    @Test func servicesRestartAndHaveResourceLimits() throws {
        for (name, service) in try Self.services() {
            if !Self.oneShotJobs.contains(name) {
                #expect(["always", "unless-stopped", "on-failure"].contains(service["restart"] as? String ?? ""),
                        "\(name): restart \(service["restart"] ?? "unset")")
            }
            let limits = mapping(mapping(mapping(service["deploy"])?["resources"])?["limits"])
            #expect(limits?["cpus"] != nil && limits?["memory"] != nil, "\(name) has no deploy.resources.limits (cpus, memory)")
        }
    }

    /// migrate seeds the demo catalogue only when DEMO_DATA=1 (compose.dev.yaml);
    /// production stock is never overwritten by it.
    @Test func demoDataOnlyWhenAskedFor() throws {
        let migrate = try #require(try Self.services()["migrate"])
        let command = Self.strings(in: migrate["command"]).joined(separator: " ")
        #expect(command.matches(of: /orderctl db seed/).count == 1, "\(command)")
        #expect(command.contains(#"if [ "$$DEMO_DATA" = 1 ]; then orderctl db seed; fi"#), "\(command)")
        #expect(Self.environment(of: migrate)["DEMO_DATA"] == "${DEMO_DATA:-0}")
        let devMigrate = try #require(try Self.services(in: "compose.dev.yaml")["migrate"])
        #expect(Self.environment(of: devMigrate)["DEMO_DATA"] == "1")
    }

    /// compose.dev.yaml only adds to compose.yaml: ports on this machine's loopback,
    /// demo data; it names no service compose.yaml does not have.
    @Test func developmentOverridePublishesOnLoopbackOnly() throws {
        let production = try Self.services()
        let development = try Self.services(in: "compose.dev.yaml")
        #expect(Set(development.keys).isSubset(of: Set(production.keys)), "\(development.keys.sorted())")
        var published: Set<Int> = []
        for (name, service) in development {
            #expect(service["image"] == nil && service["build"] == nil, "\(name): compose.dev.yaml changes what runs")
            for port in Self.publishedPorts(of: service) {
                #expect(port.hostIP == "127.0.0.1", "\(name) publishes \(port.container) beyond loopback")
                published.insert(port.container)
            }
        }
        #expect(published == [5432, 5672, 15672, 8081, 8083], "\(published)")
    }

    // MARK: Interpolation

    /// A variable without a default either stops compose with a message (`${VAR:?…}`:
    /// the production passwords) or is set in a committed .env. compose.dev.env sets
    /// every required one, so the development command starts as it stands.
    @Test func interpolatedVariablesAreDefinedOrHaveDefaults() throws {
        let dotEnv = Self.exists(".env") ? try Self.variables(inEnvFile: ".env") : []
        let devEnv = try Self.variables(inEnvFile: "compose.dev.env")
        for file in ["compose.yaml", "compose.dev.yaml"] {
            let strings = Self.strings(in: try Yams.load(yaml: try Self.text(file)), recursive: true)
            let required = Self.requiredVariables(in: strings)
            let missing = strings.flatMap(Self.variablesWithoutDefault(in:)).filter { !dotEnv.contains($0) && !required.contains($0) }
            #expect(missing.isEmpty, "\(file) uses these variables without a default, a .env entry or a ${VAR:?message}: \(missing)")
            #expect(required.isSubset(of: devEnv), "compose.dev.env does not set \(required.subtracting(devEnv).sorted())")
        }
    }

    @Test func interpolationScannerFindsVariablesWithoutDefault() {
        let found = Self.variablesWithoutDefault(in: "${A} ${B:-x} $C $$D ${E-y} ${F:?set F} $${G} ${H:+z}")
        #expect(found == ["A", "C", "F", "H"])
    }

    // MARK: Dockerfile, CI, README

    @Test func dockerfileBuildsTheSelectedExecutable() throws {
        let dockerfile = try Self.text("Dockerfile")
        for needle in ["librabbitmq-dev", "libpq-dev", "librabbitmq4", "libpq5", "--static-swift-stdlib",
                       "ARG EXECUTABLE", "$EXECUTABLE", "migrations/"] {
            #expect(dockerfile.contains(needle), "Dockerfile does not mention \(needle)")
        }
        let user = dockerfile.split(separator: "\n").last { $0.hasPrefix("USER ") }
        #expect(user != nil && user?.contains("root") == false, "the runtime image must run as a non-root user")
    }

    @Test func ciRunsTheTestCommand() throws {
        let script = try Self.text(".ci/run")
        #expect(script.hasPrefix("#!/usr/bin/env bash\n"))
        let commands = script.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.hasPrefix("#") }
        #expect(commands.contains("set -euo pipefail"))
        // A line that runs it, not one that only mentions it (an echo, say).
        #expect(commands.contains { $0.contains(/^(exec\s+|bash\s+)?(\.\/)?scripts\/test(\s|$)/) },
                ".ci/run does not call scripts/test")
    }

    @Test func readmeShowsTheComposeCommands() throws {
        let blockLines = try Self.readmeCodeBlockLines()
        #expect(blockLines.contains("docker compose up --build -d"), "the production command")
        #expect(blockLines.contains("docker compose --env-file compose.dev.env -f compose.yaml -f compose.dev.yaml up --build"),
                "the development command (compose.dev.yaml's header says the same)")
        #expect(try Self.text("compose.dev.yaml").contains("docker compose --env-file compose.dev.env -f compose.yaml -f compose.dev.yaml up --build"))
    }

    @Test func readmeShowsBothCommandsInCodeBlocks() throws {
        let blockLines = try Self.readmeCodeBlockLines()
        #expect(blockLines.contains("scripts/run"))
        #expect(blockLines.contains("scripts/test"))
    }
}

// MARK: - Reading the files

extension ComposeTests {
    /// The database role the daemons log in as (postgres/initdb creates it).
    static let applicationRole = "orders_app"

    /// Services that run once and exit: no healthcheck, no restart.
    static let oneShotJobs: Set<String> = ["migrate", "migrate-cluster", "cluster-init"]

    static func profiles(of service: [String: Any]) -> [String] { strings(in: service["profiles"]) }

    static func inClusterProfile(_ service: [String: Any]) -> Bool { profiles(of: service).contains("cluster") }

    /// `scheme://user:password@host:port,host:port/database?query`, split by hand:
    /// URLComponents refuses libpq's multi-host URLs. Interpolations are replaced first.
    static func multiHostURL(_ url: String) -> (scheme: String, user: String, hosts: [String], path: String, query: String)? {
        let plain = url.replacing(/\$\{[^}]*\}/, with: "value")
        guard let match = plain.wholeMatch(of: /([a-z]+):\/\/([^:@\/]+):[^@]*@([^\/]+)\/([^?]*)(?:\?(.*))?/) else { return nil }
        return (String(match.output.1), String(match.output.2), match.output.3.split(separator: ",").map(String.init), String(match.output.4),
                match.output.5.map(String.init) ?? "")
    }

    /// The trimmed lines inside the README's fenced code blocks.
    static func readmeCodeBlockLines() throws -> Set<String> {
        var inBlock = false
        var blockLines: Set<String> = []
        for line in try Self.text("README.md").split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("```") {
                inBlock.toggle()
            } else if inBlock {
                blockLines.insert(trimmed)
            }
        }
        return blockLines
    }

    static func exists(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: TestEnvironment.repositoryRoot.appendingPathComponent(path).path)
    }

    static func text(_ path: String) throws -> String {
        let relative = path.hasPrefix("./") ? String(path.dropFirst(2)) : path
        return try String(contentsOf: TestEnvironment.repositoryRoot.appendingPathComponent(relative), encoding: .utf8)
    }

    static func compose(_ file: String = "compose.yaml") throws -> [String: Any] {
        try #require(mapping(try Yams.load(yaml: try text(file))), "\(file) is not a mapping")
    }

    static func services(in file: String = "compose.yaml") throws -> [String: [String: Any]] {
        let services = try #require(mapping(try compose(file)["services"]), "\(file) has no services")
        return services.compactMapValues(mapping)
    }

    /// `VAR=value` lines of an env file, comments skipped.
    static func variables(inEnvFile path: String) throws -> Set<String> {
        Set(try text(path).split(separator: "\n").compactMap { line -> String? in
            line.hasPrefix("#") ? nil : line.split(separator: "=", maxSplits: 1).first.map(String.init)
        })
    }

    /// The variables interpolated as `${VAR:?message}`: compose refuses to start without them.
    static func requiredVariables(in strings: [String]) -> Set<String> {
        Set(strings.flatMap { $0.matches(of: /\$\{([A-Za-z_][A-Za-z0-9_]*):\?[^}]+\}/).map { String($0.output.1) } })
    }

    /// A URL whose interpolations (`${VAR:?message}`, which may hold spaces) are
    /// replaced by a plain value, parsed.
    static func urlComponents(_ url: String) -> URLComponents? {
        URLComponents(string: url.replacing(/\$\{[^}]*\}/, with: "value"))
    }

    /// Published ports, short (`[ip:]host:container`) or long syntax.
    static func publishedPorts(of service: [String: Any]) -> [(hostIP: String?, container: Int)] {
        (service["ports"] as? [Any] ?? []).compactMap { entry in
            if let map = mapping(entry) {
                return (map["host_ip"] as? String, (map["target"] as? Int) ?? Int("\(map["target"] ?? "")") ?? -1)
            }
            let parts = "\(entry)".split(separator: "/").first.map { $0.split(separator: ":").map(String.init) } ?? []
            guard let container = parts.last.flatMap({ Int($0) }) else { return nil }
            return (parts.count == 3 ? parts[0] : nil, container)
        }
    }

    /// `configs` entries (long syntax) as source → target.
    static func configTargets(of service: [String: Any]) -> [String: String] {
        Dictionary((service["configs"] as? [Any] ?? []).compactMap { entry in
            mapping(entry).flatMap { map in (map["source"] as? String).map { ($0, map["target"] as? String ?? "/\($0)") } }
        }, uniquingKeysWith: { $1 })
    }

    /// The names in `.executableTarget(name: "…"` in Package.swift.
    static func executableTargets() throws -> Set<String> {
        let manifest = try text("Package.swift")
        return Set(manifest.matches(of: /\.executableTarget\(\s*name:\s*"([^"]+)"/).map { String($0.output.1) })
    }

    static func executable(of service: [String: Any]?) -> String? {
        mapping(mapping(service?["build"])?["args"])?["EXECUTABLE"] as? String
    }

    /// `depends_on` as service name → condition.
    static func dependencies(of service: [String: Any]) -> [String: String] {
        (mapping(service["depends_on"]) ?? [:]).compactMapValues { mapping($0)?["condition"] as? String }
    }

    static func healthcheck(_ service: [String: Any]?) throws -> String {
        let healthcheck = try #require(mapping(service?["healthcheck"]), "no healthcheck")
        return strings(in: healthcheck["test"]).joined(separator: " ")
    }

    /// `environment` as a mapping, whichever of the two compose forms it has.
    static func environment(of service: [String: Any]) -> [String: String] {
        if let list = service["environment"] as? [Any] {
            return Dictionary(list.compactMap { entry -> (String, String)? in
                let parts = "\(entry)".split(separator: "=", maxSplits: 1).map(String.init)
                return parts.count == 2 ? (parts[0], parts[1]) : nil
            }, uniquingKeysWith: { $1 })
        }
        return (mapping(service["environment"]) ?? [:]).mapValues { "\($0)" }
    }

    /// Short-syntax bind mounts as container path → host path.
    static func bindMounts(of service: [String: Any]) -> [String: String] {
        Dictionary(strings(in: service["volumes"]).compactMap { volume -> (String, String)? in
            let parts = volume.split(separator: ":").map(String.init)
            guard parts.count >= 2, parts[0].hasPrefix(".") else { return nil }
            return (parts[1], parts[0])
        }, uniquingKeysWith: { $1 })
    }

    /// POSTGRES_DB plus every `CREATE DATABASE` in the init scripts the postgres service mounts.
    static func postgresDatabases() throws -> Set<String> {
        let postgres = try #require(try services()["postgres"])
        var databases: Set<String> = []
        if let name = environment(of: postgres)["POSTGRES_DB"] { databases.insert(name) }
        let initDirectory = try #require(bindMounts(of: postgres)["/docker-entrypoint-initdb.d"],
                                         "postgres mounts no init scripts")
        let relative = String(initDirectory.drop { $0 == "." || $0 == "/" })
        let directory = TestEnvironment.repositoryRoot.appendingPathComponent(relative)
        for file in try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        where file.hasSuffix(".sql") || file.hasSuffix(".sh") {
            let script = try text("\(relative)/\(file)")
            for match in script.matches(of: /(?i)CREATE\s+DATABASE\s+"?(\w+)"?/) {
                databases.insert(String(match.output.1))
            }
        }
        return databases
    }

    /// The string scalars in a YAML value (a scalar or a list; with `recursive`, every
    /// string anywhere below, mapping values included).
    static func strings(in value: Any?, recursive: Bool = false) -> [String] {
        switch value {
        case let string as String: return [string]
        case let list as [Any]:
            return recursive ? list.flatMap { strings(in: $0, recursive: true) } : list.compactMap { $0 as? String }
        case let map as [AnyHashable: Any] where recursive: return map.values.flatMap { strings(in: $0, recursive: true) }
        default: return []
        }
    }

    /// Compose interpolation: `$VAR`, `${VAR}`, `${VAR:?err}`, `${VAR:+alt}` have no
    /// default; `${VAR:-default}` and `${VAR-default}` do; `$$` is a literal dollar.
    static func variablesWithoutDefault(in string: String) -> [String] {
        string.replacingOccurrences(of: "$$", with: "")
            .matches(of: /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(:?-)?[^}]*\}|([A-Za-z_][A-Za-z0-9_]*))/)
            .compactMap { match in
                if let braced = match.output.1 { return match.output.2 == nil ? String(braced) : nil }
                return match.output.3.map(String.init)
            }
    }
}

/// A YAML mapping with string keys, or nil.
private func mapping(_ value: Any?) -> [String: Any]? {
    guard let map = value as? [AnyHashable: Any] else { return nil }
    return Dictionary(map.compactMap { key, value in (key.base as? String).map { ($0, value) } },
                      uniquingKeysWith: { $1 })
}
