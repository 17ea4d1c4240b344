import HTTPTypes
import Instrumentation

/// The process's `Instrument` over HTTP header fields.
public struct HTTPFieldsPropagation: Extractor, Injector {
    public init() {}

    public func extract(key: String, from carrier: HTTPFields) -> String? {
        HTTPField.Name(key).flatMap { carrier[$0] }
    }

    public func inject(_ value: String, forKey key: String, into carrier: inout HTTPFields) {
        guard let name = HTTPField.Name(key) else { return }
        carrier[name] = value
    }
}
