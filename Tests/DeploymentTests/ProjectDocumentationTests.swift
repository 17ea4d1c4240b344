import Foundation
import Testing
import TestSupport

/// The project documents itself: what the README and docs/architecture.md name
/// exists, and the module layering that docs/architecture.md states is the one
/// Package.swift declares.
@Suite("Project documentation")
struct ProjectDocumentationTests {
    // MARK: Files the documents name

    /// Every repository path the README and docs/architecture.md name, in a
    /// link or in backticks, exists. Paths that the scripts create at run
    /// time (`.local/`, `.build/`) are not repository files.
    @Test(arguments: ["README.md", "docs/architecture.md"])
    func everyPathTheDocumentNamesExists(document: String) throws {
        let text = try ComposeTests.text(document)
        let named = Self.repositoryPaths(in: text)
        #expect(named.count >= 5, "\(document) names almost no file; is the scanner broken?")
        for path in named.sorted() {
            let base = document.contains("/") ? URL(fileURLWithPath: document).deletingLastPathComponent().relativePath : "."
            let fromDocument = base == "." ? path : "\(base)/\(path)"
            #expect(ComposeTests.exists(path) || ComposeTests.exists(fromDocument), "\(document) names \(path), which does not exist")
        }
    }

    /// Every folder the README's layout lists under `Sources/` and `Tests/` exists.
    @Test func everyFolderOfTheLayoutExists() throws {
        let text = try ComposeTests.text("README.md")
        let layout = try #require(text.firstRange(of: "## Layout"), "README has no Layout section")
        var parent: String?
        var checked = 0
        for line in text[layout.upperBound...].split(separator: "\n").prefix(while: { !$0.hasPrefix("## ") }) {
            if let top = line.firstMatch(of: /^(Sources|Tests)\/\s*$/) {
                parent = String(top.output.1)
                continue
            }
            if !line.hasPrefix("  ") { parent = nil }
            guard let parent else { continue }
            // `  Name/   description` or `  a/ b/ c/   description`
            let names = line.split(separator: " ").prefix { $0.hasSuffix("/") }
            for name in names {
                checked += 1
                #expect(ComposeTests.exists("\(parent)/\(name)"), "README's layout lists \(parent)/\(name), which does not exist")
            }
        }
        #expect(checked >= 20, "the layout block was not found or not read")
    }

    /// Every source module appears in the README's layout, so the map stays complete.
    @Test func everyModuleIsInTheLayout() throws {
        let text = try ComposeTests.text("README.md")
        for module in try Self.modules().keys.sorted() {
            #expect(text.contains("\(module)/"), "README's layout does not list Sources/\(module)/")
        }
    }

    // MARK: Module layering

    /// The layers of docs/architecture.md, lowest first: a module may depend only
    /// on modules of lower layers. A new module is added here and there.
    static let layers: [[String]] = [
        ["CRabbitMQ", "CLibPQ"],
        ["CRabbitMQShims", "TextCodecs", "BenchReport"],
        ["AMQP", "Postgres", "ServiceSupport", "StripeAPI"],
        ["OrderCore", "Topology"],
        ["Messaging", "OrderStore", "HTTPSupport", "Shopify"],
        ["OrderAPI", "OrderWorker", "VendorSync", "StockSync", "PaymentWorker", "FulfilmentWorker", "ChannelSync", "Admin"],
        ["Console"],
        ["order-api", "order-worker", "vendor-sync-worker", "stock-sync", "payment-worker", "fulfilment-worker", "channel-sync", "order-console", "orderctl", "bench-amqp", "bench-load", "bench-report"],
    ]

    @Test func everyModuleDependsOnlyOnLowerLayers() throws {
        let modules = try Self.modules()
        var layerOf: [String: Int] = [:]
        for (index, layer) in Self.layers.enumerated() {
            for module in layer { layerOf[module] = index }
        }
        #expect(Set(modules.keys) == Set(layerOf.keys), "Package.swift's modules and the layers differ")
        for (module, dependencies) in modules {
            let layer = try #require(layerOf[module])
            for dependency in dependencies {
                let below = try #require(layerOf[dependency], "\(module) depends on \(dependency), which has no layer")
                #expect(below < layer, "\(module) (layer \(layer)) depends on \(dependency) (layer \(below)): not a lower layer")
            }
        }
        // Only the two wrappers reach the C modules.
        for (module, dependencies) in modules where dependencies.contains(where: { $0.hasPrefix("C") && layerOf[$0]! <= 1 }) {
            #expect(["AMQP", "Postgres", "CRabbitMQShims"].contains(module), "\(module) imports a C module")
        }
    }

    @Test func theArchitectureDocumentListsEveryLayeredModule() throws {
        let text = try ComposeTests.text("docs/architecture.md")
        for module in Self.layers.joined() {
            #expect(text.contains(module), "docs/architecture.md does not mention \(module)")
        }
    }

    // MARK: Reading

    /// The package's own source modules (not test targets) and the package
    /// modules among their dependencies (products of other packages left out).
    static func modules() throws -> [String: Set<String>] {
        let manifest = try ComposeTests.text("Package.swift")
        var shared: [String: Set<String>] = [:]
        for match in manifest.matches(of: /let (\w+): \[Target\.Dependency\] = \[([^\]]*)\]/) {
            shared[String(match.output.1)] = quotedNames(in: String(match.output.2))
        }
        var result: [String: Set<String>] = [:]
        let declaration = /\.(target|executableTarget|systemLibrary)\(\s*name:\s*"([^"]+)"/
        let starts = manifest.matches(of: declaration)
        for (index, start) in starts.enumerated() {
            let end = index + 1 < starts.count ? starts[index + 1].range.lowerBound : manifest.endIndex
            let body = manifest[start.range.upperBound..<end]
            if body.contains(#"path: "Tests"#) { continue }
            // The first `.testTarget` after the last source module ends its body.
            let own = body.range(of: ".testTarget(").map { body[..<$0.lowerBound] } ?? body
            var dependencies: Set<String> = []
            if let list = own.firstMatch(of: /dependencies:\s*\[((?:[^\[\]]|\[[^\]]*\])*)\]/) {
                dependencies = quotedNames(in: String(list.output.1))
            } else if let name = own.firstMatch(of: /dependencies:\s*(\w+)/), let list = shared[String(name.output.1)] {
                dependencies = list
            }
            result[String(start.output.2)] = dependencies
        }
        return result
    }

    /// `"Name"` entries of a dependency list, leaving out `.product(name: "…", package: "…")`.
    static func quotedNames(in list: String) -> Set<String> {
        let withoutProducts = list.replacing(/\.product\([^)]*\)/, with: "")
        return Set(withoutProducts.matches(of: /"([^"]+)"/).map { String($0.output.1) })
    }

    /// Paths in markdown links and in backticks that look like repository files.
    static func repositoryPaths(in text: String) -> Set<String> {
        var paths: Set<String> = []
        for match in text.matches(of: /\]\(([^)#\s]+)\)/) where !match.output.1.contains("://") {
            paths.insert(String(match.output.1))
        }
        let roots = "Sources|Tests|scripts|docs|migrations|rabbitmq|postgres|Benchmarks|monitoring|\\.ci"
        let backticked = try! Regex("`((?:\(roots))/[^`\\s*<>]*)`")
        for match in text.matches(of: backticked) {
            if let path = match.output[1].substring { paths.insert(String(path)) }
        }
        for name in ["compose.yaml", "Dockerfile", "Package.swift", "BENCHMARKS.md"] where text.contains("`\(name)`") {
            paths.insert(name)
        }
        return paths
    }
}
