import Benchmark
import Foundation
import OrderCore

// The two ways to read the JSON the services receive, on the same bytes:
// the hand-written parser with per-field validation (what the worker and the
// API use) against JSONDecoder straight into the Codable types (no validation
// beyond what Codable does, so it is the cheapest JSONDecoder path there is).

private let orderBody = OrderPlaced(
    orderId: UUID(uuidString: "3f2504e0-4f89-41d3-9a0c-0305e82c3301")!,
    lines: [
        OrderLine(productId: "p1", quantity: 2),
        OrderLine(productId: "p2", quantity: 1),
        OrderLine(productId: "widget-blue.xl", quantity: 12),
    ],
    idempotencyKey: "checkout-7f3a9c21",
    acceptedAt: Date(timeIntervalSince1970: 1_795_000_000.123)
).encoded()

private let allocationBody = VendorMovement(
    movementId: UUID(uuidString: "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d")!,
    orderId: UUID(uuidString: "3f2504e0-4f89-41d3-9a0c-0305e82c3301")!,
    vendorId: "vendor-a", productId: "widget-blue.xl", quantity: 12
).encoded()

private let requestBody = Array(#"{"items":[{"productId":"p1","quantity":2},{"productId":"p2","quantity":1},{"productId":"widget-blue.xl","quantity":12}]}"#.utf8)

/// `POST /order`'s multi-line form as a Codable type.
private struct OrderRequestBody: Decodable {
    let items: [OrderLine]
}

/// Message dates through the same timestamp codec the hand-written path uses,
/// so the comparison is of the JSON reading alone.
private let decoder: JSONDecoder = {
    let decoder = JSONDecoder()
    decoder.dateDecodingStrategy = .custom { decoder in
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let date = MessageCoding.parseDate(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an ISO 8601 date")
        }
        return date
    }
    return decoder
}()

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput],
        warmupIterations: 1_000,
        scalingFactor: .kilo,
        maxDuration: .seconds(3),
        maxIterations: 1_000
    )

    // A sample is 1,000 decodes (scalingFactor); the starred metrics are
    // reported per decode.
    Benchmark("OrderPlaced: hand-written parser") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try OrderPlaced.decode(orderBody)) }
    }
    Benchmark("OrderPlaced: JSONDecoder") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try decoder.decode(OrderPlaced.self, from: Data(orderBody))) }
    }
    Benchmark("VendorMovement: hand-written parser") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try VendorMovement.decode(allocationBody)) }
    }
    Benchmark("VendorMovement: JSONDecoder") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try decoder.decode(VendorMovement.self, from: Data(allocationBody))) }
    }
    Benchmark("POST /order body: hand-written parser") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try OrderRequest.parse(requestBody).get()) }
    }
    Benchmark("POST /order body: JSONDecoder") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try decoder.decode(OrderRequestBody.self, from: Data(requestBody))) }
    }
}
