import DuckDBClient
import Foundation
import ResultFormat
import TestSupport
import Testing

/// DuckDB → QueryResult → Arrow IPC → ArchivedResult, checked against DuckDB itself: its own JSON
/// export, and (through Python's duckdb and pyarrow) its own Arrow export.
@Suite struct ArrowExportTests {
    @Test func tpchResultsReadFromTheArchiveEncodeToDuckDBsOwnJSON() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let connection = try Database(path: nil).connect()
        _ = try TPCH.generating { try connection.execute("CALL dbgen(sf = 0.01)") }
        // More than 65 536 rows (two record batches), in a total order both sides reproduce.
        let sample = """
            SELECT l_orderkey, l_linenumber, l_shipdate, l_shipmode, l_comment,
                   CASE WHEN l_linenumber = 1 THEN NULL ELSE l_tax END AS tax, c
            FROM lineitem, range(2) copies(c) WHERE c = 0 OR l_linenumber <= 2
            ORDER BY l_orderkey, l_linenumber, c
            """
        for (index, sql) in [TPCH.q1, TPCH.q6, sample].enumerated() {
            let result = try connection.query(sql)
            let archive = try ArchivedResult(bytes: try ArrowIPCWriter().encode(result))
            try archive.validate()
            if index == 2 { #expect(archive.rowCount > 65_536 && archive.batchCount == 2) }
            let ours = try #require(try JSONSerialization.jsonObject(with: Data(try JSONResultEncoder().encode(archive))) as? [[String: Any]])

            let file = dir.appendingPathComponent("q\(index).json").path
            _ = try connection.execute("COPY (\(sql)) TO '\(file)' (FORMAT json, ARRAY true)")
            let theirs = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? [[String: Any]])

            #expect(ours.count == result.rowCount && theirs.count == result.rowCount, "query \(index)")
            for (row, (a, b)) in zip(ours, theirs).enumerated() {
                #expect(Set(a.keys) == Set(b.keys), "query \(index) row \(row)")
                for (key, value) in b {
                    let mine = a[key] ?? "missing"
                    let same = TPCH.sameJSONValue(mine, value)
                    #expect(same, "query \(index) row \(row) \(key): \(mine) vs DuckDB \(value)")
                    if !same { return }
                }
            }
        }
    }

    @Test func arrowTypesAndValuesMatchDuckDBsOwnArrowExport() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let row = """
            SELECT true AS b, -1::TINYINT AS i8, -2::SMALLINT AS i16, -3::INTEGER AS i32, -4::BIGINT AS i64,
                   5::UTINYINT AS u8, 6::USMALLINT AS u16, 7::UINTEGER AS u32, 18446744073709551615::UBIGINT AS u64,
                   1.5::FLOAT AS f, 2.25::DOUBLE AS d, 'héllo'::VARCHAR AS s, '\\x00\\xFFab'::BLOB AS bl,
                   DATE '1969-07-20' AS day, TIME '23:59:59.123456' AS t, TIMESTAMP '2024-02-29 12:34:56.789' AS ts,
                   TIMESTAMPTZ '2024-02-29 12:34:56.789+00' AS tz, INTERVAL '1 month 2 days 3.5 seconds' AS iv,
                   123.45::DECIMAL(10,2) AS dec, 170141183460469231731687303715884105727::HUGEINT AS h,
                   12345678901234567890123456.789012345678::DECIMAL(38,12) AS dec38, -0.05::DECIMAL(4,2) AS dec4,
                   sum(9007199254740993::BIGINT) OVER () AS exact_sum, 340282366920938463463374607431768211455::UHUGEINT AS uh,
                   [1, NULL, 3] AS l, [[1.5::DECIMAL(4,1)], [], NULL] AS ll, {'a': 1, 'b': 'x', 'c': [true]} AS st,
                   MAP {'k': 1, 'j': NULL} AS m, histogram([10, 10, 20]) AS hist, [{'x': 'y'}] AS ls,
                   [1, 2]::INTEGER[2] AS arr
            """
        let nulls = "SELECT " + ["b", "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "f", "d", "s", "bl", "day", "t", "ts",
                                 "tz", "iv", "dec", "h", "dec38", "dec4", "exact_sum", "uh", "l", "ll", "st", "m", "hist", "ls",
                                 "arr"].map { "NULL AS \($0)" }.joined(separator: ", ")
        let sql = "SELECT * FROM (\(row) UNION ALL \(nulls)) ORDER BY b NULLS LAST"
        let connection = try Database(path: nil).connect()
        _ = try connection.execute("SET TimeZone = 'UTC'")
        let file = dir.appendingPathComponent("ours.arrows")
        try Data(try ArrowIPCWriter().encode(try connection.query(sql))).write(to: file)
        let script = #"""
            import json, sys, duckdb, pyarrow as pa, pyarrow.ipc as ipc
            ours = ipc.open_stream(open(sys.argv[1], "rb")).read_all()
            con = duckdb.connect()
            con.execute("SET TimeZone = 'UTC'")
            cursor = con.execute(sys.argv[2])
            # duckdb 2.0 names it to_arrow_table, 1.4 (the pin) fetch_arrow_table.
            theirs = cursor.to_arrow_table() if hasattr(cursor, "to_arrow_table") else cursor.fetch_arrow_table()
            problems = []
            # Types and values equal DuckDB's own export, DECIMAL, HUGEINT, UHUGEINT and nested
            # types included; only a fixed-size ARRAY arrives as a LIST (DuckDB: fixed_size_list).
            for name in theirs.column_names:
                a, b = ours.column(name), theirs.column(name)
                if name == "arr":
                    b = b.cast(pa.list_(pa.field("l", pa.int32())))
                if a.type != b.type:
                    problems.append("%s: ours %s, DuckDB %s" % (name, a.type, b.type))
                av, bv = a.to_pylist(), b.to_pylist()
                if av != bv:
                    problems.append("%s: ours %r, DuckDB %r" % (name, av, bv))
            print(json.dumps(problems))
            """#
        let problems = try JSONSerialization.jsonObject(with: TestSupport.runPython(script, arguments: [file.path, sql])) as? [String]
        #expect(problems == [])
        // The exact sum is exact: 9007199254740993 is no double.
        let result = try connection.query(sql)
        #expect(result.column(named: "exact_sum")?.value(at: 0) == .hugeint(9_007_199_254_740_993))
        let json = String(decoding: JSONResultEncoder().encode(result), as: UTF8.self)
        #expect(json.contains(#""exact_sum":"9007199254740993""#))
        #expect(json.contains(#""dec4":-0.05"#))
        #expect(json.contains(#""uh":"340282366920938463463374607431768211455""#))
    }
}
