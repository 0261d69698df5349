import CDuckDB
import ResultFormat

/// A prepared statement of one ``Connection``; used on that connection's thread only.
public final class PreparedStatement {
    let handle: duckdb_prepared_statement
    let session: SessionState
    // Keeps the connection (and so the database) open while a caller holds the statement. Nil for
    // statements in the connection's own cache, which the connection outlives (no retain cycle).
    private let owner: Connection?

    init(handle: duckdb_prepared_statement, session: SessionState, owner: Connection?) {
        self.handle = handle
        self.session = session
        self.owner = owner
    }

    /// What kind of statement this is, as DuckDB classifies it (SELECT, INSERT, TRANSACTION, …).
    public var statementType: StatementType {
        StatementType(rawValue: Int(duckdb_prepared_statement_type(handle).rawValue)) ?? .other
    }

    deinit {
        var h: duckdb_prepared_statement? = handle
        duckdb_destroy_prepare(&h)
    }

    /// The number of parameters the statement expects.
    public var parameterCount: Int { Int(duckdb_nparams(handle)) }

    /// The type DuckDB inferred for each parameter, in order (``ParameterKind/unknown`` where the
    /// statement does not constrain it, e.g. `SELECT ?`).
    public var parameterKinds: [ParameterKind] {
        (0..<parameterCount).map { ParameterKind(duckdb_param_type(handle, idx_t($0 + 1))) }
    }

    /// Runs the statement and reads its result set.
    /// - Parameter parameters: one value per placeholder
    /// - Returns: the result (a statement without a result set gives zero columns and rows)
    /// - Throws: ``DuckDBError``
    public func query(_ parameters: [DuckDBValue] = []) throws -> QueryResult {
        switch try execute(parameters) {
        case .rows(let result): return result
        case .changedRows(let n):
            return QueryResult(unchecked: [Column(unchecked: "Count", type: .int64, values: .int64([Int64(n)]))], rowCount: 1)
        case .nothing: return QueryResult(unchecked: [], rowCount: 0)
        }
    }

    /// Runs the statement.
    /// - Parameter parameters: one value per placeholder
    /// - Returns: rows, a changed-row count, or nothing
    /// - Throws: ``DuckDBError``
    public func execute(_ parameters: [DuckDBValue] = []) throws -> StatementOutcome {
        try run(parameters) { result in
            .rows(try ResultReader.read(&result, maxBytes: session.maxResultBytes))
        }
    }

    /// Runs the statement and writes its result straight to an Arrow IPC stream, batch by batch
    /// as DuckDB produces it: only one batch of values is held besides the stream, never the
    /// whole result twice.
    /// - Parameters:
    ///   - parameters: one value per placeholder
    ///   - maxRowsPerBatch: rows per record batch (a batch ends at a DuckDB chunk boundary)
    /// - Returns: the stream's bytes (see ``ArrowIPCWriter``); a statement without a result set
    ///   gives the stream of what ``query(_:)`` returns for it
    /// - Throws: ``DuckDBError`` (`.resultTooLarge` past the connection's cap), ``ArchiveError``
    public func queryArrow(_ parameters: [DuckDBValue] = [], maxRowsPerBatch: Int = 65_536) throws -> [UInt8] {
        let limit = session.maxResultBytes
        var stream: ArrowStreamBuilder?
        let outcome = try run(parameters) { result -> StatementOutcome in
            try ResultReader.read(
                &result, batchRows: max(1, maxRowsPerBatch), maxBytes: limit, emittedBytes: { stream?.byteCount ?? 0 }
            ) { batch in
                if stream == nil {
                    stream = ArrowStreamBuilder(
                        fields: batch.columns.map { ArchivedField(name: $0.name, type: $0.type) }, maxRowsPerBatch: max(1, maxRowsPerBatch))
                }
                try stream?.append(batch)
            }
            return .nothing
        }
        if var stream { return stream.finish() }
        let result: QueryResult
        switch outcome {
        case .rows(let rows): result = rows
        case .changedRows(let n): result = QueryResult(unchecked: [Column(unchecked: "Count", type: .int64, values: .int64([Int64(n)]))], rowCount: 1)
        case .nothing: result = QueryResult(unchecked: [], rowCount: 0)
        }
        return try ArrowIPCWriter(maxRowsPerBatch: max(1, maxRowsPerBatch)).encode(result)
    }

    /// Checks, binds and runs the statement; `readRows` reads a result set.
    private func run(_ parameters: [DuckDBValue], readRows: (inout duckdb_result) throws -> StatementOutcome) throws -> StatementOutcome {
        let type = duckdb_prepared_statement_type(handle)
        if session.selectOnly && type != DUCKDB_STATEMENT_TYPE_SELECT {
            throw DuckDBError(.readOnly, "only SELECT statements may run here, not \(statementType.name)")
        }
        // Conservatively before it runs: a BEGIN that fails half-way still gets a reset.
        if type == DUCKDB_STATEMENT_TYPE_TRANSACTION { session.mayBeInTransaction = true }
        if Self.sessionChangingTypes.contains(type.rawValue) { session.changedSession = true }
        try bind(parameters)
        var result = duckdb_result()
        defer { duckdb_destroy_result(&result) }
        guard duckdb_execute_prepared_streaming(handle, &result) == DuckDBSuccess else {
            throw Self.error(of: &result)
        }
        do {
            return try read(&result, type: type, readRows: readRows)
        } catch {
            // A streaming result dropped before its end keeps its query (and its auto-commit
            // transaction, which blocks checkpoints) open on the connection until the next
            // statement: the pool's reset ends it.
            session.mayBeInTransaction = true
            throw error
        }
    }

    /// The statement types that change what later statements on the connection see.
    static let sessionChangingTypes: Set<UInt32> = [
        DUCKDB_STATEMENT_TYPE_SET.rawValue, DUCKDB_STATEMENT_TYPE_VARIABLE_SET.rawValue, DUCKDB_STATEMENT_TYPE_PREPARE.rawValue,
        DUCKDB_STATEMENT_TYPE_ATTACH.rawValue, DUCKDB_STATEMENT_TYPE_DETACH.rawValue, DUCKDB_STATEMENT_TYPE_LOAD.rawValue,
        DUCKDB_STATEMENT_TYPE_PRAGMA.rawValue, DUCKDB_STATEMENT_TYPE_CREATE.rawValue, DUCKDB_STATEMENT_TYPE_CREATE_FUNC.rawValue,
        DUCKDB_STATEMENT_TYPE_DROP.rawValue, DUCKDB_STATEMENT_TYPE_ALTER.rawValue, DUCKDB_STATEMENT_TYPE_EXTENSION.rawValue,
    ]

    private func read(
        _ result: inout duckdb_result, type: duckdb_statement_type, readRows: (inout duckdb_result) throws -> StatementOutcome
    ) throws -> StatementOutcome {
        switch duckdb_result_return_type(result) {
        case DUCKDB_RESULT_TYPE_CHANGED_ROWS:
            let rows = try ResultReader.read(&result)
            if case .int64(let counts) = rows.columns.first?.values, let n = counts.first {
                return .changedRows(Int(n))
            }
            return .changedRows(Int(duckdb_rows_changed(&result)))
        case DUCKDB_RESULT_TYPE_NOTHING:
            return .nothing
        default:
            return try readRows(&result)
        }
    }

    private func bind(_ parameters: [DuckDBValue]) throws {
        let expected = parameterCount
        guard parameters.count == expected else {
            throw DuckDBError(.bind, "statement expects \(expected) parameter(s), got \(parameters.count)")
        }
        for (offset, value) in parameters.enumerated() where value.bind(to: handle, at: offset + 1) != DuckDBSuccess {
            throw DuckDBError(.bind, "could not bind parameter \(offset + 1) (\(value))")
        }
    }

    static func error(of result: inout duckdb_result) -> DuckDBError {
        let message = duckdb_result_error(&result).map { String(cString: $0) } ?? "unknown error"
        let kind: DuckDBError.Kind = duckdb_result_error_type(&result) == DUCKDB_ERROR_INTERRUPT ? .interrupted : .execute
        return DuckDBError(kind, message)
    }
}

/// DuckDB's classification of a prepared statement (`duckdb_prepared_statement_type`).
public enum StatementType: Int, Sendable {
    case select = 1, insert, update, explain, delete, prepare, create, execute, alter, transaction, copy, analyze
    case variableSet, createFunction, drop, export, pragma, vacuum, call, set, load, relation, `extension`
    case logicalPlan, attach, detach, multi
    /// A type this package does not know (a newer DuckDB's).
    case other = 0

    /// The SQL keyword-like name, for messages.
    public var name: String { self == .other ? "an unknown statement type" : String(describing: self).uppercased() }
}

/// The family of a parameter's inferred DuckDB type, for checking what a caller binds against it.
public enum ParameterKind: Sendable, Equatable, CustomStringConvertible {
    case boolean, integer, decimal, floating, text, date, time, timestamp, interval, blob, uuid
    /// Another type (a list, struct, enum, …), by DuckDB's type id.
    case other(Int)
    /// Not inferred: the statement accepts any type there.
    case unknown

    init(_ type: duckdb_type) {
        switch type {
        case DUCKDB_TYPE_BOOLEAN: self = .boolean
        case DUCKDB_TYPE_TINYINT, DUCKDB_TYPE_SMALLINT, DUCKDB_TYPE_INTEGER, DUCKDB_TYPE_BIGINT, DUCKDB_TYPE_HUGEINT,
             DUCKDB_TYPE_UTINYINT, DUCKDB_TYPE_USMALLINT, DUCKDB_TYPE_UINTEGER, DUCKDB_TYPE_UBIGINT, DUCKDB_TYPE_UHUGEINT:
            self = .integer
        case DUCKDB_TYPE_DECIMAL: self = .decimal
        case DUCKDB_TYPE_FLOAT, DUCKDB_TYPE_DOUBLE: self = .floating
        case DUCKDB_TYPE_VARCHAR: self = .text
        case DUCKDB_TYPE_DATE: self = .date
        case DUCKDB_TYPE_TIME, DUCKDB_TYPE_TIME_TZ: self = .time
        case DUCKDB_TYPE_TIMESTAMP, DUCKDB_TYPE_TIMESTAMP_TZ, DUCKDB_TYPE_TIMESTAMP_S, DUCKDB_TYPE_TIMESTAMP_MS, DUCKDB_TYPE_TIMESTAMP_NS:
            self = .timestamp
        case DUCKDB_TYPE_INTERVAL: self = .interval
        case DUCKDB_TYPE_BLOB: self = .blob
        case DUCKDB_TYPE_UUID: self = .uuid
        case DUCKDB_TYPE_INVALID, DUCKDB_TYPE_ANY, DUCKDB_TYPE_SQLNULL: self = .unknown
        default: self = .other(Int(type.rawValue))
        }
    }

    /// DuckDB's name of the family, for messages.
    public var description: String {
        switch self {
        case .boolean: "BOOLEAN"
        case .integer: "an integer type"
        case .decimal: "DECIMAL"
        case .floating: "DOUBLE"
        case .text: "VARCHAR"
        case .date: "DATE"
        case .time: "TIME"
        case .timestamp: "TIMESTAMP"
        case .interval: "INTERVAL"
        case .blob: "BLOB"
        case .uuid: "UUID"
        case .other(let id): "DuckDB type \(id)"
        case .unknown: "any type"
        }
    }
}
