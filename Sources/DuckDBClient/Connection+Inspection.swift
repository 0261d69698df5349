import CDuckDB

extension Connection {
    /// Functions a served (select-only) statement may not call, although DuckDB classifies the
    /// statement as a SELECT: they write the database (`nextval`, `checkpoint`, DuckLake
    /// maintenance), change global or session state (`enable_logging` — which can make every later
    /// statement fail —, `setseed`), run SQL from a string past these checks (`query`), or read
    /// what other sessions did (`duckdb_logs`, `duckdb_secrets`).
    public static let functionsRefusedInServedQueries: Set<String> = [
        "enable_logging", "disable_logging", "truncate_duckdb_logs", "duckdb_logs", "duckdb_log_contexts",
        "checkpoint", "force_checkpoint", "setseed", "nextval", "query", "query_table", "duckdb_secrets",
    ]

    /// Name prefixes refused the same way (DuckLake's maintenance functions expire snapshots and
    /// delete files).
    public static let functionPrefixesRefusedInServedQueries = ["ducklake_"]

    /// Refuses a statement for a select-only connection when it calls a refused function, or when
    /// DuckDB cannot serialise it for inspection (`json_serialize_sql` handles plain SELECT
    /// statements; PIVOT, for one, is refused — write it as a GROUP BY).
    func inspectServedStatement(_ sql: String) throws {
        let inspector = PreparedStatement(handle: try unrestrictedPrepare("SELECT json_serialize_sql($1::VARCHAR) AS j"), session: SessionState(), owner: nil)
        let result = try inspector.query([.string(sql)])
        guard result.rowCount == 1, case .string(let json) = result.row(0)[0] else {
            throw DuckDBError(.readOnly, "the statement could not be inspected")
        }
        if json.contains(#""error":true"#) {
            throw DuckDBError(
                .readOnly,
                "served queries must be plain SELECT statements DuckDB can inspect (json_serialize_sql refused this one; write PIVOT as GROUP BY)")
        }
        for name in Self.functionNames(inSerializedSQL: json) {
            if Self.functionsRefusedInServedQueries.contains(name)
                || Self.functionPrefixesRefusedInServedQueries.contains(where: { name.hasPrefix($0) })
            {
                throw DuckDBError(.readOnly, "served queries may not call \(name)(): it writes, changes shared state or runs SQL past these checks")
            }
        }
    }

    /// Every `"function_name":"…"` value of DuckDB's JSON form of a statement (names are lower case).
    static func functionNames(inSerializedSQL json: String) -> Set<String> {
        var names: Set<String> = []
        let key = Array(#""function_name":""#.utf8)
        let bytes = Array(json.utf8)
        var i = 0
        while i + key.count <= bytes.count {
            if bytes[i] == key[0], bytes[i..<(i + key.count)].elementsEqual(key) {
                var j = i + key.count
                while j < bytes.count, bytes[j] != UInt8(ascii: "\"") { j += 1 }
                names.insert(String(decoding: bytes[(i + key.count)..<j], as: UTF8.self).lowercased())
                i = j
            } else {
                i += 1
            }
        }
        return names
    }
}
