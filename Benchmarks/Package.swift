// swift-tools-version:6.1
import PackageDescription

// The JSON micro-benchmark, kept out of the root package so that building or
// testing the services never builds package-benchmark. Run it with
// `scripts/bench-json` from the repository root.
let package = Package(
    name: "Benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "OrderProcessing", path: ".."),
        // Only the malloc interposer: the default RuntimeInterposer trait needs
        // swift-runtime-interposer, which the offline package copies do not have.
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "JSONDecoding",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "OrderCore", package: "OrderProcessing"),
            ],
            path: "Benchmarks/JSONDecoding",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
