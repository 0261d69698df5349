import DuckDBClient
import Foundation
import ResultFormat
import TestSupport
import Testing

/// LIST, STRUCT, MAP and ARRAY columns arrive from DuckDB whole, whatever the vector layout, and
/// encode to the forms DuckDB itself gives them.
@Suite struct NestedResultTests {

    @Test func listsWhoseElementsAreNotBackToBackAreGathered() throws {
        let connection = try Database().connect()
        _ = try connection.execute("""
            CREATE TABLE arrays (i BIGINT, arr BIGINT[2]);
            INSERT INTO arrays SELECT i, CASE WHEN i % 4 = 1 THEN NULL ELSE [i, -i] END FROM range(5000) r(i)
            """)
        // A constant list repeated over many rows (entries share one element range), list
        // slices, NULL arrays inside a fixed-size ARRAY column (slots that hold no elements).
        let result = try connection.query("""
            SELECT i,
                   CASE WHEN i % 3 = 0 THEN [7, 8] ELSE [i] END AS shared,
                   ([i, i + 1, i + 2, i + 3])[2:3] AS sliced,
                   arr,
                   CASE WHEN i % 5 = 2 THEN NULL ELSE MAP {'k' || (i % 3): i} END AS m
            FROM arrays ORDER BY i
            """)
        #expect(result.rowCount == 5000)
        for row in [0, 1, 2, 3, 4, 2047, 2048, 2049, 4999] {
            let i = Int64(row)
            #expect(result.columns[1].value(at: row) == (row % 3 == 0 ? .list([.int(7), .int(8)]) : .list([.int(i)])), "row \(row)")
            #expect(result.columns[2].value(at: row) == .list([.int(i + 1), .int(i + 2)]), "row \(row)")
            #expect(result.columns[3].value(at: row) == (row % 4 == 1 ? .null : .list([.int(i), .int(-i)])), "row \(row)")
            #expect(result.columns[4].value(at: row) == (row % 5 == 2 ? .null : .map(keys: [.string("k\(row % 3)")], values: [.int(i)])), "row \(row)")
        }
        // And the archive of it reads back equal.
        let archive = try ArchivedResult(bytes: try ArrowIPCWriter(maxRowsPerBatch: 1000).encode(result))
        try archive.validate()
        #expect(try archive.materialize() == result)
    }

    @Test func nestedValuesEncodeAsDuckDBsToJSONAndTextCast() throws {
        let connection = try Database().connect()
        let columns = [
            "[1, 2, NULL]", "[[1.25::DECIMAL(4,2)], [], NULL]", "{'a': 1, 'b': 'x', 'c': NULL}", "MAP {'k': 1, 'j': NULL}",
            "['a b', 'c,d', '', NULL, 'it''s', 'NULL', ' pad']", "{'x': {'y': DATE '2024-01-01'}}", "[true, false]",
            "MAP {1: [2, 3]}", "[{'q': 'r'}]", "histogram([10, 10, 20])", "[]::INTEGER[]", "NULL::INTEGER[]",
        ]
        for expression in columns {
            let result = try connection.query("SELECT \(expression) AS c")
            // JSON: DuckDB's to_json of the same value.
            let json = String(decoding: JSONResultEncoder().encode(result), as: UTF8.self)
            let theirs = try connection.query("SELECT to_json(\(expression))::VARCHAR AS j")
            guard case .string(let theirJSON) = theirs.row(0)[0] else {
                #expect(theirs.row(0)[0] == .null && json == #"[{"c":null}]"#, "\(expression)")
                continue
            }
            #expect(json == #"[{"c":"# + theirJSON + "}]", "\(expression)")
            // CSV: DuckDB's cast to VARCHAR, as one CSV field.
            let csv = String(decoding: CSVResultEncoder(lineTerminator: "\n").encode(result), as: UTF8.self)
            guard case .string(let text) = try connection.query("SELECT (\(expression))::VARCHAR AS t").row(0)[0] else { continue }
            #expect(Self.csvField(csv) == text, "\(expression)")
        }
    }

    /// The single field of a one-column, one-row CSV after its header line.
    static func csvField(_ csv: String) -> String {
        var lines = csv.split(separator: "\n", omittingEmptySubsequences: false)
        lines.removeFirst()
        let field = String(lines[0])
        guard field.hasPrefix("\""), field.hasSuffix("\"") else { return field }
        return String(field.dropFirst().dropLast()).replacing("\"\"", with: "\"")
    }
}

/// Results are bounded in memory and can be streamed to Arrow as DuckDB produces them.
@Suite struct ResultSizeTests {
    @Test func aResultPastTheCapFailsNamingTheCapAndThePoolStaysHealthy() async throws {
        let pool = try DuckDBPool(database: try Database(), configuration: .init(connections: 1, maxResultBytes: 1 << 20))
        let wide = "SELECT range AS i, repeat('x', 100) AS s FROM range(100000)"
        // Three 4 MiB strings in one vector: refused when their size is counted, before the copy.
        let fat = "SELECT repeat('x', 4194304) AS s FROM range(3)"
        for run in [{ _ = try await pool.query(wide) }, { _ = try await pool.queryArrow(wide) }, { _ = try await pool.query(fat) }] {
            do {
                try await run()
                Issue.record("a 10 MB result passed a 1 MiB cap")
            } catch let error as DuckDBError {
                #expect(error.kind == .resultTooLarge)
                #expect(error.message.contains("1048576"))
                #expect(error.message.contains("maxResultBytes"))
            }
        }
        #expect(try await pool.query("SELECT count(*) AS n FROM range(100000)").row(0) == [.int(100_000)])
        #expect(try await pool.query("SELECT range AS i FROM range(1000)").rowCount == 1000)
        await pool.shutdown()
    }

    @Test func arrowWrittenAsChunksArriveHoldsTheWholeResult() throws {
        let connection = try Database().connect()
        let sql = """
            SELECT i, i::VARCHAR || 'x' AS s, [i, NULL] AS l, {'k': i % 7} AS st, (i * 1.25)::DECIMAL(18,2) AS d,
                   CASE WHEN i % 11 = 0 THEN NULL ELSE i END AS n
            FROM range(10000) r(i) ORDER BY i
            """
        let bytes = try connection.queryArrow(sql, maxRowsPerBatch: 3000)
        let archive = try ArchivedResult(bytes: bytes)
        try archive.validate()
        #expect(archive.batchCount > 1)
        #expect(try archive.materialize() == connection.query(sql))
        // Statements without a result set still give a stream.
        #expect(try ArchivedResult(bytes: connection.queryArrow("CREATE TABLE t (i INTEGER)")).rowCount == 0)
        #expect(try ArchivedResult(bytes: connection.queryArrow("SELECT 1 AS x WHERE false")).fields == [ArchivedField(name: "x", type: .int32)])
    }
}
