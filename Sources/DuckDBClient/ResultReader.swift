import CDuckDB
import ResultFormat

/// Reads a DuckDB result into a ``QueryResult`` chunk by chunk, copying each vector's data in bulk.
enum ResultReader {
    /// Reads the whole result into one ``QueryResult``.
    /// - Parameter maxBytes: fail with `.resultTooLarge` once the values held pass this many bytes
    static func read(_ result: inout duckdb_result, maxBytes: Int? = nil) throws -> QueryResult {
        var whole: QueryResult?
        try read(&result, batchRows: .max, maxBytes: maxBytes) { whole = $0 }
        guard let whole else { throw DuckDBError(.execute, "DuckDB returned no result") }
        return whole
    }

    /// Reads the result chunk by chunk, handing `emit` a ``QueryResult`` of every `batchRows` rows
    /// read (and of the rest at the end; at least one, possibly empty, so the schema is known), so
    /// a caller can encode each batch and drop it before the next is read.
    /// - Parameters:
    ///   - batchRows: rows per emitted batch (a batch ends at a DuckDB chunk boundary past this)
    ///   - maxBytes: fail with `.resultTooLarge` once the bytes held (values read and not yet
    ///     emitted, plus `emittedBytes()`) pass this
    ///   - emittedBytes: what the caller holds of the batches it was handed (its encoded output)
    ///   - emit: receives each batch
    /// - Returns: the column names
    @discardableResult
    static func read(
        _ result: inout duckdb_result, batchRows: Int, maxBytes: Int?, emittedBytes: () -> Int = { 0 },
        emit: (QueryResult) throws -> Void
    ) throws -> [String] {
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
        var emitted = false
        var total = 0
        func checkCap(_ held: Int) throws {
            guard let maxBytes, held > maxBytes else { return }
            throw DuckDBError(
                .resultTooLarge,
                "the result passed the cap of \(maxBytes) bytes (maxResultBytes) after \(total) rows; "
                    + "aggregate or filter further, or raise the cap")
        }
        func flush() throws {
            var columns: [Column] = []
            columns.reserveCapacity(columnCount)
            for c in 0..<columnCount {
                columns.append(builders[c].finish(name: names[c]))
                builders[c] = builders[c].emptied()
            }
            let batch = QueryResult(unchecked: columns, rowCount: rowCount)
            rowCount = 0
            emitted = true
            try emit(batch)
            try checkCap(emittedBytes())  // what the caller made of it (its encoded stream) counts too
        }
        while let chunk = duckdb_fetch_chunk(result) {
            var owned: duckdb_data_chunk? = chunk
            defer { duckdb_destroy_data_chunk(&owned) }
            let size = Int(duckdb_data_chunk_get_size(chunk))
            if size == 0 { continue }
            total += size
            // Checked after every vector, so the cap is passed by at most one vector's values.
            var held = maxBytes == nil ? 0 : builders.reduce(0) { $0 + $1.byteCount } + emittedBytes()
            for c in 0..<columnCount {
                guard let vector = duckdb_data_chunk_get_vector(chunk, idx_t(c)) else {
                    throw DuckDBError(.execute, "missing vector for column \(names[c])")
                }
                let before = maxBytes == nil ? 0 : builders[c].byteCount
                if let maxBytes { builders[c].budget = maxBytes - held }
                do {
                    try builders[c].append(vector: vector, count: size)
                } catch let error as DuckDBError where error.kind == .resultTooLarge {
                    try checkCap(Int.max)  // the same message as any other pass of the cap
                    throw error
                }
                if maxBytes != nil {
                    held += builders[c].byteCount - before
                    try checkCap(held)
                }
            }
            rowCount += size
            if rowCount >= batchRows { try flush() }
        }
        // A streaming result reports a failure that happens while fetching as a NULL chunk.
        if let message = duckdb_result_error(&result) {
            let kind: DuckDBError.Kind = duckdb_result_error_type(&result) == DUCKDB_ERROR_INTERRUPT ? .interrupted : .execute
            throw DuckDBError(kind, String(cString: message))
        }
        if rowCount > 0 || !emitted { try flush() }
        return names
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
