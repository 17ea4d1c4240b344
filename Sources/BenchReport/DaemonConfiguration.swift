import Foundation

/// A daemon's effective configuration as it logged it at its last start (the
/// JSON line with `"msg":"starting"`), URLs and the log's own fields left out.
public struct DaemonConfiguration: Codable, Sendable, Equatable {
    public var name: String
    public var settings: String

    public init(name: String, log: String) {
        self.name = name
        var config: [String: LoggedValue] = [:]
        for line in log.split(whereSeparator: \.isNewline) where line.contains("\"starting\"") {
            if let object = try? JSONDecoder().decode([String: LoggedValue].self, from: Data(line.utf8)) { config = object }
        }
        let skipped: Set<String> = ["ts", "level", "logger", "msg", "vendors"]
        settings = config.keys.sorted().filter { !skipped.contains($0) && !$0.hasSuffix("_url") }
            .map { "\($0)=\(config[$0]!.text)" }.joined(separator: ", ")
    }

    /// A logged field's value as the table shows it: text as logged, booleans as True/False.
    enum LoggedValue: Decodable {
        case text(String)

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let value = try? container.decode(Bool.self) {
                self = .text(value ? "True" : "False")
            } else if let value = try? container.decode(Int.self) {
                self = .text(String(value))
            } else if let value = try? container.decode(Double.self) {
                self = .text(String(value))
            } else if let value = try? container.decode(String.self) {
                self = .text(value)
            } else {
                self = .text("…")
            }
        }

        var text: String {
            switch self { case .text(let text): text }
        }
    }
}
