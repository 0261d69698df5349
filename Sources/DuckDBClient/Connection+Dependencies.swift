import CDuckDB

extension Connection {
    /// The tables a statement reads or writes, as DuckDB's parser finds them
    /// (`duckdb_get_table_names`), for deriving which data a cached result depends on.
    ///
    /// Views are reported by their own name (not the tables behind them) and table functions such
    /// as `read_parquet` are not tables; a caller that needs the base tables resolves views itself.
    /// - Parameters:
    ///   - sql: one or more statements; nothing runs
    ///   - qualified: names as qualified in the SQL text (`schema.table`, DuckDB 1.4 also keeps an
    ///     alias: `s.b AS x`) instead of bare table names
    /// - Returns: the distinct names, sorted
    /// - Throws: ``DuckDBError`` of kind `.prepare` when the SQL does not parse or bind (an unknown
    ///   table is listed, not an error)
    public func tableNames(in sql: String, qualified: Bool = false) throws -> [String] {
        // Parse first: DuckDB reports a parse error as an empty list, which would read as "no
        // dependencies" and let a cache keep a result forever.
        var extracted: duckdb_extracted_statements?
        let count = duckdb_extract_statements(handle, sql, &extracted)
        defer { duckdb_destroy_extracted(&extracted) }
        guard count > 0 else {
            let message = extracted.flatMap { duckdb_extract_statements_error($0) }.map { String(cString: $0) }
            throw DuckDBError(.prepare, message ?? "no statement in the SQL text")
        }
        var list: duckdb_value? = duckdb_get_table_names(handle, sql, qualified)
        defer { duckdb_destroy_value(&list) }
        guard let list else {
            // DuckDB binds the statement and answers nothing when that fails: get its message.
            _ = try prepare(sql)
            throw DuckDBError(.prepare, "DuckDB could not list the tables of this statement")
        }
        var names: Set<String> = []
        for index in 0..<duckdb_get_list_size(list) {
            var child: duckdb_value? = duckdb_get_list_child(list, index)
            defer { duckdb_destroy_value(&child) }
            guard let child, let text = duckdb_get_varchar(child) else { continue }
            names.insert(String(cString: text))
            duckdb_free(text)
        }
        return names.sorted()
    }
}
