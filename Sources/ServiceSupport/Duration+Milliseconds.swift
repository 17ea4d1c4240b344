extension Duration {
    /// Milliseconds with one decimal, for logs.
    public var milliseconds: Double {
        ((Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15) * 10).rounded() / 10
    }
}
