import CLibPQ

#if canImport(Glibc)
import Glibc
#endif

/// One libpq connection (`PGconn`), owned by this object and freed exactly
/// once, by ``close()`` or `deinit`.
///
/// Not `Sendable`: use a connection from one thread at a time. Every call
/// blocks its thread until the server answers, so never call it from Swift's
/// cooperative pool or an event loop; ``PostgresPool`` runs connections on
/// threads of their own.
public final class PostgresConnection {
    public let configuration: PostgresConfiguration
    private var handle: OpaquePointer?

    /// Connects, blocking until the server accepts or `connectTimeout` passes.
    public init(configuration: PostgresConfiguration) throws(PostgresError) {
        self.configuration = configuration
        self.handle = try Self.open(configuration)
    }

    /// Same as ``init(configuration:)``.
    public static func connect(configuration: PostgresConfiguration) throws(PostgresError) -> PostgresConnection {
        try PostgresConnection(configuration: configuration)
    }

    deinit {
        if let handle { PQfinish(handle) }
    }

    /// Closes the connection. Further calls fail with a `.connection` error; ``reset()`` reconnects.
    public func close() {
        if let handle {
            PQfinish(handle)
            self.handle = nil
        }
    }

    /// Whether the connection can take a command: open, connected, and not
    /// inside a transaction that failed (`PQTRANS_INERROR`) or a command in flight.
    public var isHealthy: Bool {
        guard let handle, PQstatus(handle) == CONNECTION_OK else { return false }
        let status = transactionStatus
        return status == .idle || status == .inTransaction
    }

    /// Whether the server is known to have ended this idle connection: its
    /// socket has something to read (a reset, an end of file, the server's
    /// last words such as `57P01`) and reading it leaves the connection
    /// broken. Does not wait; a server that vanished without a word (no reset
    /// reached us) is still only noticed by the next command.
    public func serverHasClosed() -> Bool {
        guard let handle, PQstatus(handle) == CONNECTION_OK else { return true }
        let socket = PQsocket(handle)
        guard socket >= 0 else { return true }
        // Twice: the server's error message may arrive in one read and the end of file in the next.
        for _ in 0..<2 {
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 0) > 0 else { return false }
            guard PQconsumeInput(handle) == 1, PQstatus(handle) == CONNECTION_OK else { return true }
        }
        return false
    }

    /// Where the connection stands relative to a transaction block.
    public var transactionStatus: TransactionStatus {
        guard let handle else { return .unknown }
        switch PQtransactionStatus(handle) {
        case PQTRANS_IDLE: return .idle
        case PQTRANS_ACTIVE: return .active
        case PQTRANS_INTRANS: return .inTransaction
        case PQTRANS_INERROR: return .inError
        default: return .unknown
        }
    }

    /// The server process serving this connection (`pg_backend_pid()`), 0 when closed.
    public var backendPID: Int32 {
        handle.map { PQbackendPID($0) } ?? 0
    }

    /// Reconnects with the same parameters (`PQreset`), or opens anew after ``close()``.
    public func reset() throws(PostgresError) {
        guard let handle else {
            self.handle = try Self.open(configuration)
            return
        }
        PQreset(handle)
        guard PQstatus(handle) == CONNECTION_OK else {
            throw Self.connectionError(handle, password: configuration.password)
        }
    }

    // MARK: - Commands

    /// Runs one SQL statement with `$1 … $n` parameters sent separately from
    /// the SQL text (`PQsendQueryParams`, text format both ways).
    @discardableResult
    public func query(_ sql: String, _ parameters: [any PostgresEncodable] = []) throws(PostgresError) -> PostgresQueryResult {
        let handle = try liveHandle()
        guard !sql.utf8.contains(0) else { throw .protocolViolation("the SQL text contains a NUL byte") }

        // All parameter texts in one NUL-separated buffer; pointers into it
        // are made and used inside `withUnsafeBufferPointer` only.
        var storage: [CChar] = []
        var offsets: [Int?] = []
        offsets.reserveCapacity(parameters.count)
        for (index, parameter) in parameters.enumerated() {
            guard let text = parameter.postgresText else {
                offsets.append(nil)
                continue
            }
            guard !text.utf8.contains(0) else {
                throw .protocolViolation("parameter $\(index + 1) contains a NUL byte, which PostgreSQL text cannot hold")
            }
            offsets.append(storage.count)
            storage.append(contentsOf: text.utf8CString)
        }
        let sent = storage.withUnsafeBufferPointer { buffer -> Int32 in
            let values: [UnsafePointer<CChar>?] = offsets.map { offset in
                offset.map { buffer.baseAddress! + $0 }
            }
            return sql.withCString { sqlText in
                PQsendQueryParams(handle, sqlText, Int32(values.count), nil, values, nil, nil, 0)
            }
        }
        guard sent == 1 else { throw commandError(handle) }
        return try collectResults(handle)
    }

    /// Variadic form of ``query(_:_:)-(String,[any PostgresEncodable])``: `query(sql, id, name)`.
    @discardableResult
    public func query(
        _ sql: String, _ first: any PostgresEncodable, _ rest: any PostgresEncodable...
    ) throws(PostgresError) -> PostgresQueryResult {
        try query(sql, [first] + rest)
    }

    /// Runs a script of several `;`-separated statements without parameters
    /// (simple query protocol, as `PQexec` does). For trusted files only, such
    /// as migrations shipped with the program: never pass text built from
    /// input. Statements run in order and stop at the first error, which is
    /// thrown. Outside a transaction block the whole script is one implicit
    /// transaction (PostgreSQL's rule for a multi-statement query string):
    /// an error rolls back every statement of the script, unless the script
    /// has its own `BEGIN`/`COMMIT`.
    public func executeScript(_ sql: String) throws(PostgresError) {
        let handle = try liveHandle()
        guard !sql.utf8.contains(0) else { throw .protocolViolation("the SQL script contains a NUL byte") }
        let sent = sql.withCString { PQsendQuery(handle, $0) }
        guard sent == 1 else { throw commandError(handle) }
        _ = try collectResults(handle)
    }

    // MARK: - Internals

    private func liveHandle() throws(PostgresError) -> OpaquePointer {
        guard let handle else { throw PostgresError.connectionClosed }
        return handle
    }

    /// Reads every result of the command until `PQgetResult` returns NULL, so
    /// the connection is idle again whatever happened; clears each result
    /// after copying what is needed. Throws the first error.
    private func collectResults(_ handle: OpaquePointer) throws(PostgresError) -> PostgresQueryResult {
        var firstError: PostgresError?
        var last: PostgresQueryResult?
        var mustClose = false
        while let result = PQgetResult(handle) {
            defer { PQclear(result) }
            switch PQresultStatus(result) {
            case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
                if firstError == nil { last = Self.copyResult(result) }
            case PGRES_COPY_IN:
                // Refuse the COPY: the server answers with an error result.
                _ = PQputCopyEnd(handle, "COPY FROM STDIN is not supported by this client")
                firstError = firstError ?? .protocolViolation("COPY FROM STDIN is not supported")
            case PGRES_COPY_OUT:
                var buffer: UnsafeMutablePointer<CChar>?
                while PQgetCopyData(handle, &buffer, 0) > 0 {
                    PQfreemem(buffer)
                    buffer = nil
                }
                firstError = firstError ?? .protocolViolation("COPY TO STDOUT is not supported")
            case PGRES_COPY_BOTH:
                firstError = firstError ?? .protocolViolation("COPY BOTH (replication) is not supported")
                mustClose = true
            default:
                firstError = firstError ?? resultError(result, handle)
            }
            if mustClose { break }
        }
        if mustClose { close() }
        if let firstError { throw firstError }
        guard let last else { throw commandError(handle) }
        return last
    }

    private static func copyResult(_ result: OpaquePointer) -> PostgresQueryResult {
        let columnCount = PQnfields(result)
        let rowCount = PQntuples(result)
        let columns = (0..<columnCount).map { String(cString: PQfname(result, $0)) }
        var rows: [PostgresRow] = []
        rows.reserveCapacity(Int(rowCount))
        for row in 0..<rowCount {
            let values: [String?] = (0..<columnCount).map { column in
                guard PQgetisnull(result, row, column) == 0, let value = PQgetvalue(result, row, column) else {
                    return nil
                }
                let bytes = UnsafeRawBufferPointer(start: value, count: Int(PQgetlength(result, row, column)))
                return String(decoding: bytes, as: UTF8.self)
            }
            rows.append(PostgresRow(columns: columns, values: values))
        }
        let tag = PQcmdStatus(result).map { String(cString: $0) } ?? ""
        let affected = PQcmdTuples(result).map { Int(String(cString: $0)) ?? 0 } ?? 0
        return PostgresQueryResult(rows: rows, affectedRows: affected, columns: columns, commandTag: tag)
    }

    /// An error result: SQLSTATE and diagnostic fields from the server, or
    /// libpq's own message when the connection failed underneath.
    private func resultError(_ result: OpaquePointer, _ handle: OpaquePointer) -> PostgresError {
        func field(_ name: Unicode.Scalar) -> String? {
            PQresultErrorField(result, Int32(UInt8(ascii: name))).map { String(cString: $0) }
        }
        let connectionLost = PQstatus(handle) != CONNECTION_OK
        let sqlstate = field("C").map(PostgresError.Code.init(rawValue:))
        let message = field("M") ?? Self.cleanMessage(PQresultErrorMessage(result), password: configuration.password)
        return PostgresError(
            kind: connectionLost ? .connection : (sqlstate == nil ? .protocolViolation : .server),
            code: sqlstate ?? (connectionLost ? .connectionFailure : nil),
            message: Self.redacting(configuration.password, in: message.isEmpty ? "unknown error" : message),
            constraintName: field("n"),
            tableName: field("t"),
            columnName: field("c"),
            schemaName: field("s"),
            unsafeDetail: field("D"),
            hint: field("H"))
    }

    /// A failure reported on the connection rather than in a result.
    private func commandError(_ handle: OpaquePointer) -> PostgresError {
        let message = Self.cleanMessage(PQerrorMessage(handle), password: configuration.password)
        if PQstatus(handle) != CONNECTION_OK {
            return PostgresError(kind: .connection, code: .connectionFailure,
                                 message: message.isEmpty ? "connection lost" : message)
        }
        return .protocolViolation(message.isEmpty ? "libpq returned no result" : message)
    }

    // MARK: - Connecting

    private static func open(_ configuration: PostgresConfiguration) throws(PostgresError) -> OpaquePointer {
        let parameters = configuration.libpqParameters
        var storage: [CChar] = []
        var offsets: [(key: Int, value: Int)] = []
        for (key, value) in parameters {
            guard !key.utf8.contains(0), !value.utf8.contains(0) else {
                throw .configuration("the connection parameter \(key == "password" ? "password" : key) contains a NUL byte")
            }
            let keyOffset = storage.count
            storage.append(contentsOf: key.utf8CString)
            let valueOffset = storage.count
            storage.append(contentsOf: value.utf8CString)
            offsets.append((keyOffset, valueOffset))
        }
        let connection = storage.withUnsafeBufferPointer { buffer -> OpaquePointer? in
            let base = buffer.baseAddress!
            let keys: [UnsafePointer<CChar>?] = offsets.map { base + $0.key } + [nil]
            let values: [UnsafePointer<CChar>?] = offsets.map { base + $0.value } + [nil]
            return PQconnectdbParams(keys, values, 0)
        }
        guard let connection else {
            throw PostgresError(kind: .connection, message: "libpq could not allocate a connection")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let error = connectionError(connection, password: configuration.password)
            PQfinish(connection)
            throw error
        }
        // Notices (e.g. "table does not exist, skipping") would go to stderr.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        return connection
    }

    private static func connectionError(_ handle: OpaquePointer, password: String?) -> PostgresError {
        let message = cleanMessage(PQerrorMessage(handle), password: password)
        return PostgresError(
            kind: .connection, code: guessConnectionCode(message),
            message: message.isEmpty ? "could not connect" : message)
    }

    /// libpq does not expose the SQLSTATE of a failed connection attempt;
    /// recognise the common (English) messages so `isTransient` can tell an
    /// overloaded server from a wrong password.
    private static func guessConnectionCode(_ message: String) -> PostgresError.Code {
        let lowered = message.lowercased()
        if lowered.contains("password authentication failed") { return .invalidPassword }
        if lowered.contains("no pg_hba.conf entry") || lowered.contains("role \"") && lowered.contains("does not exist") {
            return .invalidAuthorizationSpecification
        }
        if lowered.contains("database \"") && lowered.contains("does not exist") { return .invalidCatalogName }
        if lowered.contains("too many clients") || lowered.contains("connection slots are reserved") {
            return .tooManyConnections
        }
        if lowered.contains("the database system is") { return .cannotConnectNow }
        return Code.unableToConnect
    }

    private typealias Code = PostgresError.Code

    /// One line, no trailing newline, password masked.
    private static func cleanMessage(_ raw: UnsafePointer<CChar>?, password: String?) -> String {
        guard let raw else { return "" }
        let lines = String(cString: raw).split(whereSeparator: \.isNewline).map { $0.trimmingWhitespace }
        return redacting(password, in: lines.filter { !$0.isEmpty }.joined(separator: "; "))
    }

    static func redacting(_ password: String?, in text: String) -> String {
        guard let password, !password.isEmpty, text.contains(password) else { return text }
        return text.replacing(password, with: "***")
    }
}

/// ``PostgresConnection/transactionStatus``, from `PQtransactionStatus`.
public enum TransactionStatus: Sendable, Hashable {
    case idle, active, inTransaction, inError, unknown
}

extension PostgresError.Code {
    /// `08001`, sqlclient_unable_to_establish_sqlconnection.
    public static let unableToConnect = PostgresError.Code("08001")
}
