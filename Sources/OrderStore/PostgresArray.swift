import Postgres

/// A one-dimensional array parameter in PostgreSQL's text form (`{"a","b"}`),
/// so a statement can take many rows at once through `unnest($1::text[])`
/// instead of one round trip per row.
struct PostgresArray: PostgresEncodable {
    let postgresText: String?

    init(_ strings: [String]) {
        self.init(optional: strings)
    }

    /// Text elements, nil as SQL NULL.
    init(optional strings: [String?]) {
        postgresText = "{" + strings.map { element in
            guard let element else { return "NULL" }
            return "\"" + element.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }.joined(separator: ",") + "}"
    }

    init(_ integers: [Int]) {
        postgresText = "{" + integers.map(String.init).joined(separator: ",") + "}"
    }
}
