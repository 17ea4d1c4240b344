import Foundation
import Hummingbird
import NIOCore

/// An `application/x-www-form-urlencoded` body, as the console's forms post it.
struct FormBody: Sendable {
    private var fields: [String: String] = [:]

    /// The most a console form posts; anything larger is refused (413).
    static let maxBytes = 16 * 1024

    init(_ text: String) {
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            fields[Self.decode(parts[0])] = parts.count > 1 ? Self.decode(parts[1]) : ""
        }
    }

    static func read(_ request: Request) async throws -> FormBody {
        FormBody(String(buffer: try await request.body.collect(upTo: maxBytes)))
    }

    /// The field's value, nil when absent or empty.
    subscript(_ name: String) -> String? {
        fields[name].flatMap { $0.isEmpty ? nil : $0 }
    }

    private static func decode(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }
}
