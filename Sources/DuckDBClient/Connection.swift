import CDuckDB
import ResultFormat

/// What a statement produced.
public enum StatementOutcome: Sendable, Equatable {
    /// A result set (possibly with zero rows).
    case rows(QueryResult)
    /// An INSERT, UPDATE or DELETE changed this many rows.
    case changedRows(Int)
    /// A statement without a result (DDL, SET, CHECKPOINT, …).
    case nothing
}

/// One DuckDB connection: runs one statement at a time, on whichever thread calls it.
///
/// Not `Sendable`: DuckDB connections must not be used by two threads at once. Use ``DuckDBPool`` to
/// share connections among tasks. Only ``interruptHandle`` may be used from another thread.
public final class Connection {
    let owner: ConnectionHandle
    let session = SessionState()
    /// The database this connection keeps open.
    public let database: Database
    private var statements: [String: PreparedStatement] = [:]
    /// How many prepared statements ``query(_:_:)`` keeps per connection.
    public var statementCacheLimit = 128

    var handle: duckdb_connection { owner.raw }

    init(database: Database) throws {
        owner = try ConnectionHandle(database: database)
        self.database = database
    }

    deinit {
        statements.removeAll()  // before the handle: prepared statements go first
    }

    /// A handle that interrupts whatever this connection is running, from any thread.
    ///
    /// It keeps DuckDB's connection alive (never a dangling pointer); inside a ``DuckDBPool`` job it
    /// works until that job ends, so it cannot stop a later caller's statement.
    public var interruptHandle: InterruptHandle { InterruptHandle(handle: owner, epoch: owner.currentEpoch) }

    /// Whether this connection refuses every statement that is not a SELECT (set by a read-only pool).
    public var isSelectOnly: Bool { session.selectOnly }

    /// The most bytes a result may hold (values, or a streamed Arrow result's bytes plus its batch
    /// in progress); past it the statement fails with `.resultTooLarge`. Nil: no cap. A pool sets
    /// its `maxResultBytes` here.
    public var maxResultBytes: Int? {
        get { session.maxResultBytes }
        set { session.maxResultBytes = newValue }
    }

    /// Prepares one statement.
    /// - Parameter sql: exactly one SQL statement with `?` or `$1` placeholders
    /// - Returns: the statement, reusable with different parameters
    /// - Throws: ``DuckDBError`` of kind `.prepare` with DuckDB's message, or when `sql` holds no or
    ///   several statements (DuckDB would run all but the last while preparing)
    public func prepare(_ sql: String) throws -> PreparedStatement {
        PreparedStatement(handle: try prepareHandle(sql), session: session, owner: self)
    }

    /// Prepares exactly one statement. `duckdb_prepare` runs every statement but the last of a
    /// script at once, which would bypass the select-only check and the transaction tracking.
    private func prepareHandle(_ sql: String) throws -> duckdb_prepared_statement {
        let handle = try unrestrictedPrepare(sql)
        if session.selectOnly {
            do {
                let type = duckdb_prepared_statement_type(handle)
                guard type == DUCKDB_STATEMENT_TYPE_SELECT else {
                    let name = StatementType(rawValue: Int(type.rawValue))?.name ?? "an unknown statement type"
                    throw DuckDBError(.readOnly, "only SELECT statements may run here, not \(name)")
                }
                try inspectServedStatement(sql)
            } catch {
                var h: duckdb_prepared_statement? = handle
                duckdb_destroy_prepare(&h)
                throw error
            }
        }
        return handle
    }

    /// Prepares exactly one statement, without the select-only inspection.
    func unrestrictedPrepare(_ sql: String) throws -> duckdb_prepared_statement {
        try withStatements(of: sql) { extracted, count in
            guard count == 1 else {
                throw DuckDBError(.prepare, "expected one statement, got \(count) (use execute(_:) for scripts)")
            }
            var statement: duckdb_prepared_statement?
            return try Self.checkPrepared(duckdb_prepare_extracted_statement(handle, extracted, 0, &statement), &statement)
        }
    }

    /// Splits `sql` into statements (parsing only) and calls `body` with them and their count.
    /// - Throws: ``DuckDBError`` of kind `.prepare` with DuckDB's parse error, or for empty SQL
    func withStatements<R>(of sql: String, _ body: (duckdb_extracted_statements, Int) throws -> R) throws -> R {
        var extracted: duckdb_extracted_statements?
        let count = duckdb_extract_statements(handle, sql, &extracted)
        defer { duckdb_destroy_extracted(&extracted) }
        guard count > 0, let extracted else {
            let message = extracted.flatMap { duckdb_extract_statements_error($0) }.map { String(cString: $0) }
            throw DuckDBError(.prepare, message ?? "no statement in the SQL text")
        }
        return try body(extracted, Int(count))
    }

    /// The prepared statement, or DuckDB's error (after freeing the failed statement).
    private static func checkPrepared(
        _ state: duckdb_state, _ statement: inout duckdb_prepared_statement?
    ) throws -> duckdb_prepared_statement {
        guard state == DuckDBSuccess, let prepared = statement else {
            let message = statement.flatMap { duckdb_prepare_error($0) }.map { String(cString: $0) } ?? "could not prepare statement"
            if statement != nil { duckdb_destroy_prepare(&statement) }
            throw DuckDBError(.prepare, message)
        }
        return prepared
    }

    /// Runs one statement with bound parameters and reads its whole result, chunk by chunk.
    ///
    /// The statement is prepared once and cached on this connection (up to ``statementCacheLimit``),
    /// so registered queries pay for parsing and planning once per connection.
    /// - Parameters:
    ///   - sql: a single statement
    ///   - parameters: values for its placeholders, in order
    /// - Returns: the columnar result
    /// - Throws: ``DuckDBError`` (prepare, bind, execute, interrupted or unsupported type)
    public func query(_ sql: String, _ parameters: [DuckDBValue] = []) throws -> QueryResult {
        let statement = try cachedStatement(sql)
        return try statement.query(parameters)
    }

    /// Runs one statement and writes its result straight to Arrow IPC bytes, batch by batch as
    /// DuckDB produces it (see ``PreparedStatement/queryArrow(_:maxRowsPerBatch:)``).
    /// - Parameters:
    ///   - sql: a single statement (prepared once and cached, as by ``query(_:_:)``)
    ///   - parameters: values for its placeholders
    ///   - maxRowsPerBatch: rows per record batch
    /// - Returns: the Arrow IPC stream
    /// - Throws: ``DuckDBError``, ``ArchiveError``
    public func queryArrow(_ sql: String, _ parameters: [DuckDBValue] = [], maxRowsPerBatch: Int = 65_536) throws -> [UInt8] {
        try cachedStatement(sql).queryArrow(parameters, maxRowsPerBatch: maxRowsPerBatch)
    }

    /// Runs one or more `;`-separated statements and returns what the last one produced.
    /// - Parameter sql: the script
    /// - Returns: the last statement's outcome
    /// - Throws: ``DuckDBError`` from the first failing statement (earlier ones stay applied)
    public func execute(_ sql: String) throws -> StatementOutcome {
        // A select-only connection runs one inspected statement at a time.
        if session.selectOnly { return try prepare(sql).execute([]) }
        return try withStatements(of: sql) { extracted, count in
            var outcome = StatementOutcome.nothing
            for index in 0..<count {
                var statement: duckdb_prepared_statement?
                let prepared = try Self.checkPrepared(
                    duckdb_prepare_extracted_statement(handle, extracted, idx_t(index), &statement), &statement)
                outcome = try PreparedStatement(handle: prepared, session: session, owner: nil).execute([])
            }
            return outcome
        }
    }

    /// Runs `body` in a transaction: commits when it returns, rolls back when it throws.
    /// - Parameter body: the work
    /// - Returns: what `body` returned
    /// - Throws: what `body` threw, or a ``DuckDBError`` from BEGIN/COMMIT
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        _ = try execute("BEGIN TRANSACTION")
        do {
            let value = try body()
            _ = try execute("COMMIT")
            return value
        } catch {
            _ = try? execute("ROLLBACK")
            throw error
        }
    }

    /// Opens an appender for bulk inserts into a table.
    /// - Parameters:
    ///   - table: the table's name
    ///   - schema: its schema (nil: the default schema)
    /// - Returns: the appender; flush or close it to make rows visible
    /// - Throws: ``DuckDBError`` of kind `.appender`
    public func appender(table: String, schema: String? = nil) throws -> Appender {
        guard !session.selectOnly else {
            throw DuckDBError(.readOnly, "this connection runs SELECT statements only; an appender writes")
        }
        return try Appender(connection: self, schema: schema, table: table)
    }

    func cachedStatement(_ sql: String) throws -> PreparedStatement {
        if let statement = statements[sql] { return statement }
        let statement = PreparedStatement(handle: try prepareHandle(sql), session: session, owner: nil)
        if statements.count >= statementCacheLimit, let victim = statements.keys.randomElement() {
            statements.removeValue(forKey: victim)
        }
        statements[sql] = statement
        return statement
    }

    /// What ``resetTransactionState()`` found.
    enum Reset { case clean, rolledBack, failed }

    /// Ends a transaction a job left open or aborted, so the next job starts in auto-commit mode.
    ///
    /// Runs only when a transaction statement ran since the last reset.
    /// - Returns: `.failed` when the connection could not be brought back to auto-commit (replace it)
    func resetTransactionState() -> Reset {
        guard session.mayBeInTransaction else { return .clean }
        var result = duckdb_result()
        defer { duckdb_destroy_result(&result) }
        var outcome = Reset.rolledBack
        if duckdb_query(handle, "ROLLBACK", &result) != DuckDBSuccess {
            let message = duckdb_result_error(&result).map { String(cString: $0) } ?? ""
            // Already in auto-commit mode: nothing was left open.
            guard message.contains("no transaction is active") else { return .failed }
            outcome = .clean
        }
        session.mayBeInTransaction = false
        return outcome
    }
}
