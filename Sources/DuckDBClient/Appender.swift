import CDuckDB
import ResultFormat

/// Bulk insertion into one table through DuckDB's appender: rows are buffered and written in
/// column chunks, far faster than one INSERT per row. Used on its connection's thread only.
///
/// Rows become visible after ``flush()`` or ``close()``; an appender that is dropped is closed.
public final class Appender {
    private var handle: duckdb_appender?
    private let connection: Connection

    init(connection: Connection, schema: String?, table: String) throws {
        self.connection = connection
        var appender: duckdb_appender?
        let state = duckdb_appender_create(connection.handle, schema, table, &appender)
        if state != DuckDBSuccess {
            let message = Self.message(appender) ?? "could not open an appender on \(table)"
            duckdb_appender_destroy(&appender)
            throw DuckDBError(.appender, message)
        }
        handle = appender
    }

    deinit {
        duckdb_appender_destroy(&handle)
    }

    /// The number of columns of the target table.
    public var columnCount: Int { handle.map { Int(duckdb_appender_column_count($0)) } ?? 0 }

    /// Appends one value to the current row.
    /// - Parameter value: the next column's value
    /// - Throws: ``DuckDBError`` of kind `.appender` (wrong type, too many values, closed)
    public func append(_ value: DuckDBValue) throws {
        let h = try open()
        let state: duckdb_state
        switch value {
        case .null: state = duckdb_append_null(h)
        case .bool(let v): state = duckdb_append_bool(h, v)
        case .int(let v): state = duckdb_append_int64(h, v)
        case .double(let v): state = duckdb_append_double(h, v)
        case .string(let v):
            state = v.withCString { duckdb_append_varchar_length(h, $0, idx_t(v.utf8.count)) }
        case .blob(let v):
            state = v.withUnsafeBytes { buf in
                guard let base = buf.baseAddress else { return duckdb_append_blob(h, "", 0) }
                return duckdb_append_blob(h, base, idx_t(buf.count))
            }
        case .date(let days): state = duckdb_append_date(h, duckdb_date(days: days))
        case .time(let micros): state = duckdb_append_time(h, duckdb_time(micros: micros))
        case .timestamp(let micros), .timestampTZ(let micros):
            state = duckdb_append_timestamp(h, duckdb_timestamp(micros: micros))
        case .interval(let v):
            state = duckdb_append_interval(h, duckdb_interval(months: v.months, days: v.days, micros: v.micros))
        }
        try check(state)
    }

    /// Appends a whole row and ends it.
    /// - Parameter values: one value per column, in table order
    /// - Throws: ``DuckDBError`` of kind `.appender`
    public func appendRow(_ values: [DuckDBValue]) throws {
        for value in values { try append(value) }
        try endRow()
    }

    /// Ends the current row.
    /// - Throws: ``DuckDBError`` of kind `.appender` when the row has too few values
    public func endRow() throws {
        try check(duckdb_appender_end_row(try open()))
    }

    /// Writes buffered rows to the table; on error the buffered rows are discarded.
    /// - Throws: ``DuckDBError`` of kind `.appender` (e.g. a constraint violation)
    public func flush() throws {
        try check(duckdb_appender_flush(try open()))
    }

    /// Flushes and closes; later calls throw.
    /// - Throws: ``DuckDBError`` of kind `.appender`
    public func close() throws {
        let h = try open()
        let state = duckdb_appender_close(h)
        let message = state == DuckDBSuccess ? nil : Self.message(h)
        duckdb_appender_destroy(&handle)
        if let message { throw DuckDBError(.appender, message) }
    }

    private func open() throws -> duckdb_appender {
        guard let handle else { throw DuckDBError(.appender, "appender is closed") }
        return handle
    }

    private func check(_ state: duckdb_state) throws {
        guard state != DuckDBSuccess else { return }
        throw DuckDBError(.appender, Self.message(handle) ?? "appender error")
    }

    private static func message(_ appender: duckdb_appender?) -> String? {
        guard let appender else { return nil }
        var error: duckdb_error_data? = duckdb_appender_error_data(appender)
        defer { duckdb_destroy_error_data(&error) }
        guard let error, duckdb_error_data_has_error(error), let text = duckdb_error_data_message(error) else { return nil }
        return String(cString: text)
    }
}
