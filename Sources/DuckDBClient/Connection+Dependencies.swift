import CDuckDB
import ResultFormat
import Foundation

extension Connection {
    /// The tables a statement reads or writes, as DuckDB finds them when it binds the statement
    /// (`duckdb_get_table_names`), for deriving which data a cached result depends on.
    ///
    /// Views and table macros are resolved to the tables they read (when DuckDB's listing fails to
    /// bind a view, as 1.4.4's does for some, from the tables the statement's unoptimised plan
    /// scans). Names are canonical: lower
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
            let statement = try prepare(sql)
            // It also cannot bind parameters here: list the tables of the same statement with
            // NULL in place of each parameter (rewritten through DuckDB's own JSON form of it).
            if statement.parameterCount > 0, let bare = try withoutParameters(sql) {
                return try tableNames(in: bare, qualified: qualified)
            }
            // DuckDB 1.4.4 fails to bind some views in its listing: read the tables the plan
            // scans instead (views expanded, nothing pruned by the optimizer).
            if !qualified, let scanned = try scannedTables(sql) { return scanned }
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

extension Connection {
    /// The tables the unoptimised physical plan of `sql` (a statement without parameters) scans,
    /// from `EXPLAIN (FORMAT JSON)`: views are expanded and no scan is pruned. Nil when the plan
    /// cannot be produced or read.
    func scannedTables(_ sql: String) throws -> [String]? {
        func run(_ text: String) throws -> QueryResult {
            try PreparedStatement(handle: try unrestrictedPrepare(text), session: SessionState(), owner: nil).query([])
        }
        _ = try run("PRAGMA disable_optimizer")
        defer { _ = try? run("PRAGMA enable_optimizer") }
        // The statement is a registered query's SQL (never client input), already parsed alone.
        let plan = try run("EXPLAIN (FORMAT JSON) " + sql)
        guard plan.rowCount > 0, plan.columns.count > 1, case .string(let json) = plan.row(0)[1],
              let tree = try? JSONSerialization.jsonObject(with: Data(json.utf8)) else { return nil }
        var names: Set<String> = []
        func visit(_ node: Any) {
            if let object = node as? [String: Any] {
                if let info = object["extra_info"] as? [String: Any], let table = info["Table"] as? String {
                    names.insert(table.lowercased())
                }
                for value in object.values { visit(value) }
            } else if let array = node as? [Any] {
                array.forEach(visit)
            }
        }
        visit(tree)
        return names.sorted()
    }

    /// The SELECT statement `sql` with each parameter (`?`, `$1`, `$name`) replaced by a NULL
    /// constant, rewritten by DuckDB (`json_serialize_sql`, then `json_deserialize_sql`) — never by
    /// editing the text. Nil when DuckDB cannot serialise the statement (not a plain SELECT).
    func withoutParameters(_ sql: String) throws -> String? {
        let serialize = PreparedStatement(
            handle: try unrestrictedPrepare("SELECT json_serialize_sql($1::VARCHAR)"), session: SessionState(), owner: nil)
        guard case .string(let json) = try serialize.query([.string(sql)]).row(0)[0],
              var tree = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
              tree["error"] as? Bool == false
        else { return nil }
        func replacingParameters(_ node: Any) -> Any {
            if var object = node as? [String: Any] {
                if object["class"] as? String == "PARAMETER" {
                    return [
                        "class": "CONSTANT", "type": "VALUE_CONSTANT", "alias": object["alias"] ?? "",
                        "query_location": object["query_location"] ?? UInt64.max,
                        "value": ["type": ["id": "NULL", "type_info": NSNull()], "is_null": true] as [String: Any],
                    ] as [String: Any]
                }
                for (key, value) in object { object[key] = key == "named_param_map" ? [Any]() : replacingParameters(value) }
                return object
            }
            if let array = node as? [Any] { return array.map(replacingParameters) }
            return node
        }
        tree = replacingParameters(tree) as? [String: Any] ?? tree
        let rewritten = String(decoding: try JSONSerialization.data(withJSONObject: tree), as: UTF8.self)
        let deserialize = PreparedStatement(
            handle: try unrestrictedPrepare("SELECT json_deserialize_sql($1::JSON)"), session: SessionState(), owner: nil)
        guard case .string(let bare) = try deserialize.query([.string(rewritten)]).row(0)[0] else { return nil }
        return bare
    }
}
