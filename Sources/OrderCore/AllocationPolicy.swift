/// Stock one vendor holds of one product.
public struct VendorStock: Sendable, Hashable {
    public let vendorId: String
    public let productId: String
    public let stock: Int

    public init(vendorId: String, productId: String, stock: Int) {
        self.vendorId = vendorId
        self.productId = productId
        self.stock = stock
    }
}

/// A part of an order line served by one vendor.
public struct PlannedAllocation: Sendable, Hashable {
    public let lineNumber: Int
    public let vendorId: String
    public let productId: String
    public let quantity: Int
}

public enum AllocationDecision: Sendable, Hashable {
    case allocate([PlannedAllocation])
    /// A business answer: the order is REJECTED, never retried.
    case reject(reason: String)
}

/// How an order's lines are spread over the vendors that stock them.
///
/// Policy: **most available first**. For each line, vendors are taken in
/// descending order of the stock they still have (ties by vendor id), and a
/// line is split across vendors when one is not enough. This keeps the
/// largest buffers busy and leaves small vendors for small orders. All or
/// nothing: if any line cannot be covered, nothing is allocated.
public enum AllocationPolicy {
    public static func decide(lines: [OrderLine], stock: [VendorStock]) -> AllocationDecision {
        var remaining: [String: [(vendorId: String, stock: Int)]] = [:]
        for row in stock where row.stock > 0 { remaining[row.productId, default: []].append((row.vendorId, row.stock)) }
        let known = Set(stock.map(\.productId))

        var wanted: [String: Int] = [:]
        for line in lines { wanted[line.productId, default: 0] += line.quantity }
        for productId in wanted.keys.sorted() {
            guard known.contains(productId) else { return .reject(reason: "unknown product \(productId)") }
            let available = remaining[productId, default: []].reduce(0) { $0 + $1.stock }
            if available < wanted[productId]! {
                return .reject(reason: "insufficient stock for \(productId): requested \(wanted[productId]!), available \(available)")
            }
        }

        var plan: [PlannedAllocation] = []
        for (lineNumber, line) in lines.enumerated() {
            var needed = line.quantity
            var vendors = remaining[line.productId, default: []]
            vendors.sort { $0.stock != $1.stock ? $0.stock > $1.stock : $0.vendorId < $1.vendorId }
            for index in vendors.indices where needed > 0 && vendors[index].stock > 0 {
                let take = min(needed, vendors[index].stock)
                vendors[index].stock -= take
                needed -= take
                plan.append(PlannedAllocation(lineNumber: lineNumber + 1, vendorId: vendors[index].vendorId, productId: line.productId, quantity: take))
            }
            remaining[line.productId] = vendors
        }
        return .allocate(plan)
    }
}
