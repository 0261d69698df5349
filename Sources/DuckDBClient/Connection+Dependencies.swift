import CDuckDB

extension Connection {
    /// The tables a statement reads or writes, as DuckDB finds them when it binds the statement
    /// (`duckdb_get_table_names`), for deriving which data a cached result depends on.
    ///
    /// Views and table macros are resolved to the tables they read. Names are canonical: lower
    /// case (DuckDB's identifiers are case-insensitive, quoted or not) and without aliases. Table
    /// functions (`read_parquet`, `duckdb_tables()`, DuckLake's), sequences and the catalog are
    /// not tables and are not listed: an empty list means "no table", not "no dependency" — a
    /// cache must treat a statement that reads anything else as depending on everything.
    /// - Parameters:
    ///   - sql: one statement; nothing runs
    ///   - qualified: names as qualified in the SQL text (`schema.table`, `catalog.schema.table`)
    ///     instead of bare table names
    /// - Returns: the distinct names, sorted
    /// - Throws: ``DuckDBError`` of kind `.prepare` when the SQL does not parse or bind (an unknown
    ///   table is listed, not an error)
    public func tableNames(in sql: String, qualified: Bool = false) throws -> [String] {
        // Parse first: DuckDB reports a parse error as an empty list, which would read as "no
        // dependencies" and let a cache keep a result forever.
        try withStatements(of: sql) { _, _ in }
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
            var name = String(cString: text)
            duckdb_free(text)
            // DuckDB 1.4 keeps an alias in qualified names ("s.b AS x").
            if let alias = name.range(of: " AS ") { name = String(name[..<alias.lowerBound]) }
            names.insert(name.lowercased())
        }
        return names.sorted()
    }
}
