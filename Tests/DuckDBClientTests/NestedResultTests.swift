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
