import CDuckDB
import ResultFormat

/// Reads a DuckDB result into a ``QueryResult`` chunk by chunk, copying each vector's data in bulk.
enum ResultReader {
    static func read(_ result: inout duckdb_result) throws -> QueryResult {
        let columnCount = Int(duckdb_column_count(&result))
        var names: [String] = []
        var builders: [ColumnBuilder] = []
        names.reserveCapacity(columnCount)
        builders.reserveCapacity(columnCount)
        for c in 0..<columnCount {
            let name = duckdb_column_name(&result, idx_t(c)).map { String(cString: $0) } ?? "column\(c)"
            names.append(name)
            var logical: duckdb_logical_type? = duckdb_column_logical_type(&result, idx_t(c))
            defer { duckdb_destroy_logical_type(&logical) }
            guard let logical else { throw DuckDBError(.execute, "no type for column \(name)") }
            builders.append(try ColumnBuilder.make(for: logical, column: name))
        }
        var rowCount = 0
        while let chunk = duckdb_fetch_chunk(result) {
            var owned: duckdb_data_chunk? = chunk
            defer { duckdb_destroy_data_chunk(&owned) }
            let size = Int(duckdb_data_chunk_get_size(chunk))
            if size == 0 { continue }
            for c in 0..<columnCount {
                guard let vector = duckdb_data_chunk_get_vector(chunk, idx_t(c)) else {
                    throw DuckDBError(.execute, "missing vector for column \(names[c])")
                }
                builders[c].append(vector: vector, count: size)
            }
            rowCount += size
        }
        // A streaming result reports a failure that happens while fetching as a NULL chunk.
        if let message = duckdb_result_error(&result) {
            let kind: DuckDBError.Kind = duckdb_result_error_type(&result) == DUCKDB_ERROR_INTERRUPT ? .interrupted : .execute
            throw DuckDBError(kind, String(cString: message))
        }
        var columns: [Column] = []
        columns.reserveCapacity(columnCount)
        for c in 0..<columnCount {
            columns.append(builders[c].finish(name: names[c]))
        }
        return QueryResult(unchecked: columns, rowCount: rowCount)
    }

    /// The SQL name of a DuckDB type id, for error messages.
    static func typeName(_ type: duckdb_type) -> String {
        switch type {
        case DUCKDB_TYPE_LIST: "LIST"
        case DUCKDB_TYPE_STRUCT: "STRUCT"
        case DUCKDB_TYPE_MAP: "MAP"
        case DUCKDB_TYPE_UNION: "UNION"
        case DUCKDB_TYPE_ARRAY: "ARRAY"
        case DUCKDB_TYPE_BIT: "BIT"
        case DUCKDB_TYPE_TIME_TZ: "TIME WITH TIME ZONE"
        case DUCKDB_TYPE_BIGNUM: "BIGNUM"
        case DuckDBTypeID.geometry: "GEOMETRY"
        case DuckDBTypeID.variant: "VARIANT"
        default: "type #\(type.rawValue)"
        }
    }
}
