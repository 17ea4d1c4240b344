/// Where a product's available stock stands for inventory events
/// (`product_stock_levels.level`).
public enum StockLevel: String, Sendable, Hashable, CaseIterable {
    case inStock = "IN_STOCK"
    case low = "LOW"
    case out = "OUT"
}

/// An `inventory.*` event a change of available stock calls for.
public enum InventoryEvent: String, Sendable, Hashable, CaseIterable {
    case lowStock = "inventory.low_stock"
    case outOfStock = "inventory.out_of_stock"
    case backInStock = "inventory.back_in_stock"
}

/// When a product's available stock crosses its threshold, with hysteresis:
///
/// - 0 units is OUT (`out_of_stock`, once);
/// - from OUT, any stock is `back_in_stock` (LOW or IN_STOCK by the figure);
/// - from IN_STOCK, `threshold` or fewer is LOW (`low_stock`, once);
/// - LOW becomes IN_STOCK again only above `threshold + hysteresis`, silently,
///   so stock that wobbles around the threshold does not announce
///   `low_stock` at every order and restock.
public struct StockLevelPolicy: Sendable, Hashable {
    public let threshold: Int
    public let hysteresis: Int

    /// `hysteresis` defaults to half the threshold, at least 1.
    public init(threshold: Int, hysteresis: Int? = nil) {
        self.threshold = max(0, threshold)
        self.hysteresis = max(1, hysteresis ?? threshold / 2)
    }

    /// The new level for `available` units, and the event to announce, if
    /// any. A product never seen before counts as IN_STOCK.
    public func next(from current: StockLevel?, available: Int) -> (level: StockLevel, event: InventoryEvent?) {
        let current = current ?? .inStock
        if available <= 0 { return (.out, current == .out ? nil : .outOfStock) }
        switch current {
        case .out:
            return (available <= threshold ? .low : .inStock, .backInStock)
        case .inStock:
            return available <= threshold ? (.low, .lowStock) : (.inStock, nil)
        case .low:
            return (available > threshold + hysteresis ? .inStock : .low, nil)
        }
    }
}
