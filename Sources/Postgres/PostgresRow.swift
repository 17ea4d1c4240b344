/// One result row, copied out of libpq: column names and text values (`nil` is SQL NULL).
public struct PostgresRow: Sendable, Hashable {
    public let columns: [String]
    public let values: [String?]

    public init(columns: [String], values: [String?]) {
        precondition(columns.count == values.count, "a row needs one value per column")
        self.columns = columns
        self.values = values
    }

    /// The raw text of a column, `nil` for SQL NULL.
    public subscript(column: Int) -> String? { values[column] }

    /// Decodes column `column` (zero-based). Decode as `T?` to accept NULL.
    public func decode<T: PostgresDecodable>(_ column: Int, as type: T.Type = T.self) throws(PostgresError) -> T {
        guard values.indices.contains(column) else {
            throw .decoding("column index \(column) is out of range: the row has \(values.count) columns")
        }
        return try T.decode(postgresText: values[column], column: columns[column])
    }

    /// Decodes the first column named `name`. Decode as `T?` to accept NULL.
    public func decode<T: PostgresDecodable>(_ name: String, as type: T.Type = T.self) throws(PostgresError) -> T {
        guard let column = columns.firstIndex(of: name) else {
            throw .decoding("no column named \"\(name)\" in the result")
        }
        return try T.decode(postgresText: values[column], column: name)
    }
}

/// The complete result of one command.
public struct PostgresQueryResult: Sendable, Hashable {
    public let rows: [PostgresRow]
    /// Rows inserted, updated, deleted, selected … as reported by the command tag (`PQcmdTuples`); 0 if none.
    public let affectedRows: Int
    public let columns: [String]
    /// The command tag, e.g. `INSERT 0 1`, `SELECT 3`, `BEGIN`.
    public let commandTag: String

    public init(rows: [PostgresRow], affectedRows: Int, columns: [String], commandTag: String) {
        self.rows = rows
        self.affectedRows = affectedRows
        self.columns = columns
        self.commandTag = commandTag
    }

    /// The first row, if any.
    public var first: PostgresRow? { rows.first }

    /// The only row; a `.decoding` error when there are none or several.
    public func singleRow() throws(PostgresError) -> PostgresRow {
        guard rows.count == 1 else { throw .decoding("expected exactly one row, got \(rows.count)") }
        return rows[0]
    }
}
