import ArgumentParser
import CDuckDB

/// The baseline: DuckDB's C API used directly, converting nothing.
final class RawDuckDB {
    private var database: duckdb_database?
    private var connection: duckdb_connection?
    private var statements: [String: duckdb_prepared_statement] = [:]

    init(threads: Int?) throws {
        var config: duckdb_config?
        duckdb_create_config(&config)
        defer { duckdb_destroy_config(&config) }
        if let threads { duckdb_set_config(config, "threads", String(threads)) }
        var error: UnsafeMutablePointer<CChar>?
        guard duckdb_open_ext(nil, &database, config, &error) == DuckDBSuccess,
              duckdb_connect(database, &connection) == DuckDBSuccess else {
            throw ValidationError("could not open DuckDB")
        }
    }

    deinit {
        for (_, s) in statements { var h: duckdb_prepared_statement? = s; duckdb_destroy_prepare(&h) }
        duckdb_disconnect(&connection)
        duckdb_close(&database)
    }

    func run(_ sql: String) throws {
        var result = duckdb_result()
        defer { duckdb_destroy_result(&result) }
        guard duckdb_query(connection, sql, &result) == DuckDBSuccess else {
            throw ValidationError(String(cString: duckdb_result_error(&result)))
        }
    }

    /// Runs a prepared statement (streaming, like the pool) and fetches every chunk; returns the row count.
    func drain(_ sql: String) throws -> Int {
        let statement: duckdb_prepared_statement
        if let s = statements[sql] {
            statement = s
        } else {
            var s: duckdb_prepared_statement?
            guard duckdb_prepare(connection, sql, &s) == DuckDBSuccess, let s else { throw ValidationError("prepare failed") }
            statements[sql] = s
            statement = s
        }
        var result = duckdb_result()
        defer { duckdb_destroy_result(&result) }
        guard duckdb_execute_prepared_streaming(statement, &result) == DuckDBSuccess else {
            throw ValidationError(String(cString: duckdb_result_error(&result)))
        }
        var rows = 0
        while let chunk = duckdb_fetch_chunk(result) {
            rows += Int(duckdb_data_chunk_get_size(chunk))
            var c: duckdb_data_chunk? = chunk
            duckdb_destroy_data_chunk(&c)
        }
        return rows
    }
}

