import Synchronization

/// A list appended to from concurrent tasks.
final class SharedList<Element: Sendable>: Sendable {
    private let elements = Mutex<[Element]>([])

    /// Appends and returns how many elements the list holds with it.
    @discardableResult
    func append(_ element: Element) -> Int {
        elements.withLock {
            $0.append(element)
            return $0.count
        }
    }

    var all: [Element] { elements.withLock { $0 } }
}
