// swift-tools-version:6.0
import PackageDescription

// What a queue worker's library (order-worker, vendor-sync-worker) builds on.
let queueWorkerDependencies: [Target.Dependency] = [
    "AMQP", "Postgres", "Topology", "OrderCore", "OrderStore", "Messaging", "ServiceSupport", "TextCodecs",
    .product(name: "Logging", package: "swift-log"),
    .product(name: "Instrumentation", package: "swift-distributed-tracing"),
    .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"),
    .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
    .product(name: "Metrics", package: "swift-metrics"),
]

// The C libraries are reached only through CRabbitMQ/CRabbitMQShims (by AMQP)
// and CLibPQ (by Postgres). Every other module talks to those two wrappers.
let package = Package(
    name: "OrderProcessing",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "orderctl", targets: ["orderctl"]),
        .executable(name: "order-api", targets: ["order-api"]),
        .executable(name: "order-worker", targets: ["order-worker"]),
        .executable(name: "vendor-sync-worker", targets: ["vendor-sync-worker"]),
        .executable(name: "stock-sync", targets: ["stock-sync"]),
        .executable(name: "payment-worker", targets: ["payment-worker"]),
        .executable(name: "fulfilment-worker", targets: ["fulfilment-worker"]),
        .executable(name: "channel-sync", targets: ["channel-sync"]),
        .executable(name: "order-console", targets: ["order-console"]),
        // For the JSON micro-benchmark package in Benchmarks/.
        .library(name: "OrderCore", targets: ["OrderCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "5.0.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        .package(url: "https://github.com/apple/swift-service-context.git", from: "1.5.1"),
        .package(url: "https://github.com/swift-otel/swift-w3c-trace-context.git", from: "1.0.0"),
    ],
    targets: [
        // MARK: C libraries
        .systemLibrary(
            name: "CRabbitMQ",
            pkgConfig: "librabbitmq",
            providers: [.apt(["librabbitmq-dev"])]
        ),
        .target(name: "CRabbitMQShims", dependencies: ["CRabbitMQ"]),
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),

        // MARK: Wrappers (the only modules that import a C module)
        .target(
            name: "AMQP",
            dependencies: [
                "CRabbitMQ", "CRabbitMQShims", "TextCodecs",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "Postgres",
            dependencies: [
                "CLibPQ", "TextCodecs",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                // The caller's trace context follows its work onto the pool's threads.
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // MARK: Domain (no I/O)
        .target(name: "TextCodecs"),
        .target(name: "OrderCore", dependencies: ["TextCodecs", .product(name: "Crypto", package: "swift-crypto")]),

        // MARK: The payment gateway's HTTP API (Stripe's, or localstripe's)
        .target(
            name: "StripeAPI",
            dependencies: [
                "TextCodecs",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // MARK: A sales channel's messages and API (Shopify's): order webhooks in, stock levels out
        .target(
            name: "Shopify",
            dependencies: [
                "OrderCore", "TextCodecs",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),

        // MARK: Shared infrastructure
        .target(name: "Topology", dependencies: ["AMQP"]),
        .target(
            name: "ServiceSupport",
            dependencies: [
                "TextCodecs",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                // Each process's metrics (swift-metrics, exposed in Prometheus's text format) and
                // the W3C trace context its log lines and messages carry (swift-distributed-tracing).
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
                .product(name: "ServiceContextModule", package: "swift-service-context"),
                .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"),
            ]
        ),
        .target(
            name: "Messaging",
            dependencies: [
                "AMQP", "OrderCore", "Topology", "ServiceSupport", "TextCodecs",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
                .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "OrderStore",
            dependencies: [
                "Postgres", "OrderCore", "ServiceSupport", "TextCodecs",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
            ]
        ),
        // MARK: Each process's logic, as a library tests drive in-process
        .target(
            name: "OrderWorker",
            dependencies: queueWorkerDependencies
        ),
        .target(
            name: "HTTPSupport",
            dependencies: [
                "OrderCore", "Postgres", "ServiceSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .target(
            name: "OrderAPI",
            dependencies: [
                "HTTPSupport", "AMQP", "Postgres", "Topology", "OrderCore", "OrderStore", "Messaging", "ServiceSupport", "TextCodecs", "StripeAPI",
                "Shopify",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            resources: [.copy("openapi.yaml")]
        ),
        .target(
            name: "VendorSync",
            dependencies: queueWorkerDependencies
        ),
        .target(
            name: "PaymentWorker",
            dependencies: [
                "AMQP", "Postgres", "Topology", "OrderCore", "Messaging", "ServiceSupport", "TextCodecs", "StripeAPI",
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "FulfilmentWorker",
            dependencies: [
                "AMQP", "Postgres", "Topology", "OrderCore", "OrderStore", "Messaging", "HTTPSupport", "ServiceSupport", "Shopify", "TextCodecs",
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "StockSync",
            dependencies: [
                "HTTPSupport", "Postgres", "OrderCore", "OrderStore", "ServiceSupport", "TextCodecs", "Topology",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "ChannelSync",
            dependencies: [
                "AMQP", "Postgres", "Topology", "OrderCore", "OrderStore", "Messaging", "ServiceSupport", "Shopify", "TextCodecs",
                .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "Admin",
            dependencies: ["AMQP", "Postgres", "Topology", "OrderStore", "OrderCore", "Messaging", "ServiceSupport", "TextCodecs",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "AsyncHTTPClient", package: "async-http-client"),
                           .product(name: "NIOCore", package: "swift-nio")]
        ),

        // MARK: The operator console: queues, dead letters, orders and stock in a browser
        .target(
            name: "Console",
            dependencies: [
                "Admin", "AMQP", "Postgres", "Topology", "OrderCore", "OrderStore", "Messaging", "HTTPSupport", "ServiceSupport", "TextCodecs",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // MARK: Executables (thin: configuration in, services out)
        .executableTarget(
            name: "orderctl",
            dependencies: ["Admin", "ServiceSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),

        .executableTarget(
            name: "order-api",
            dependencies: ["OrderAPI", "ServiceSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "vendor-sync-worker",
            dependencies: ["VendorSync", "HTTPSupport", "ServiceSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "stock-sync",
            dependencies: ["StockSync", "ServiceSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "order-worker",
            dependencies: ["OrderWorker", "HTTPSupport", "ServiceSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "payment-worker",
            dependencies: ["PaymentWorker", "HTTPSupport", "ServiceSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "fulfilment-worker",
            dependencies: ["FulfilmentWorker", "ServiceSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "order-console",
            dependencies: ["Console", "ServiceSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "channel-sync",
            dependencies: ["ChannelSync", "HTTPSupport", "ServiceSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),

        // MARK: Benchmark harnesses (run by scripts/bench; tools, not services)
        // The bench's pure logic (percentiles, /proc, figures, tables), tested without services.
        .target(name: "BenchReport"),
        .executableTarget(
            name: "bench-report",
            dependencies: ["BenchReport", "Postgres", "ServiceSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "bench-amqp",
            dependencies: [
                "AMQP", "Topology", "OrderCore", "Messaging", "ServiceSupport", "BenchReport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "bench-load",
            dependencies: [
                "ServiceSupport", "BenchReport",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // MARK: Tests
        .target(
            name: "TestSupport",
            dependencies: [
                "AMQP", "Postgres", "ServiceSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/TestSupport"
        ),
        .testTarget(name: "AMQPTests", dependencies: ["AMQP", "TestSupport"]),
        .testTarget(
            name: "PostgresTests",
            dependencies: ["Postgres", "TestSupport", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]
        ),
        .testTarget(name: "OrderCoreTests", dependencies: ["OrderCore", "TextCodecs"]),
        .testTarget(
            name: "ServiceSupportTests",
            dependencies: [
                "ServiceSupport", "TextCodecs",
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
                .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"),
            ]
        ),
        .testTarget(name: "TextCodecsTests", dependencies: ["TextCodecs"]),
        .testTarget(name: "BenchReportTests", dependencies: ["BenchReport"]),
        .testTarget(name: "StripeAPITests", dependencies: ["StripeAPI", "TextCodecs", "TestSupport"]),
        .testTarget(name: "ShopifyTests", dependencies: ["Shopify", "OrderCore"]),
        .testTarget(
            name: "PaymentWorkerTests",
            dependencies: [
                "PaymentWorker", "StripeAPI", "Messaging", "OrderCore", "Topology", "AMQP", "Postgres", "ServiceSupport", "TextCodecs", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(name: "TopologyTests", dependencies: ["Topology", "Messaging", "ServiceSupport", "TestSupport"]),
        .testTarget(
            name: "FulfilmentWorkerTests",
            dependencies: [
                "FulfilmentWorker", "OrderAPI", "HTTPSupport", "Messaging", "OrderCore", "OrderStore", "Topology", "AMQP", "Postgres", "ServiceSupport",
                "TextCodecs", "TestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(name: "OrderStoreTests", dependencies: ["OrderStore", "TestSupport"]),
        .testTarget(
            name: "OrderFlowTests",
            dependencies: [
                "OrderAPI", "HTTPSupport", "OrderWorker", "VendorSync", "StockSync", "OrderCore", "OrderStore", "Messaging", "Topology", "ServiceSupport", "TestSupport",
                "StripeAPI", "ChannelSync", "Shopify",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
                .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "AdminTests",
            dependencies: [
                "Admin", "AMQP", "OrderWorker", "OrderCore", "OrderStore", "Messaging", "Topology", "Postgres", "ServiceSupport", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "ConsoleTests",
            dependencies: [
                "Console", "Admin", "AMQP", "OrderWorker", "OrderCore", "OrderStore", "Messaging", "Topology", "Postgres", "ServiceSupport", "TestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "DeploymentTests",
            dependencies: ["Topology", "TestSupport", .product(name: "Yams", package: "Yams")]
        ),
    ]
)
