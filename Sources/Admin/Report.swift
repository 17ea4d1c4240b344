import Foundation
import OrderCore

/// Renders rows as an aligned text table or as JSON, the two forms every command offers.
public struct Report: Renderable {
    public var columns: [String]
    public var rows: [[String]]

    public init(columns: [String], rows: [[String]]) {
        self.columns = columns
        self.rows = rows
    }

    public func render(_ format: OutputFormat) -> String {
        switch format {
        case .table: return table()
        case .json:
            return JSONValue.array(rows.map { .object(Dictionary(uniqueKeysWithValues: zip(columns, $0.map(JSONValue.string)))) }).json()
        }
    }

    private func table() -> String {
        guard !rows.isEmpty else { return "(none)" }
        let widths = columns.indices.map { index in
            max(columns[index].count, rows.map { $0[index].count }.max() ?? 0)
        }
        func line(_ cells: [String]) -> String {
            zip(cells, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }
        return ([line(columns.map { $0.uppercased() })] + rows.map(line)).joined(separator: "\n")
    }
}
