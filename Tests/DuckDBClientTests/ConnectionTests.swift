import DuckDBClient
import TestSupport
import Foundation
import ResultFormat
import Testing

@Suite struct ConnectionTests {
    @Test func resultsSpanningManyChunksKeepEveryValueAndNull() throws {
        let r = try Database().connect().query("""
            SELECT i, CASE WHEN i % 7 = 0 THEN NULL ELSE 'row-' || i END AS s,
                   CASE WHEN i % 3 = 0 THEN NULL ELSE (i * 0.5)::DOUBLE END AS d
            FROM range(5000) r(i) ORDER BY i
            """)
        #expect(r.rowCount == 5000)
        #expect(r.columns.map(\.type) == [.int64, .varchar, .double])
        for i in 0..<5000 {
            let row = r.row(i)
            #expect(row[0] == .int(Int64(i)))
            #expect(row[1] == (i % 7 == 0 ? .null : .string("row-\(i)")))
            if i % 3 == 0 {
                #expect(row[2] == .null)
            } else {
                #expect(row[2] == .double(Double(i) * 0.5))
            }
        }
        #expect(r.columns[1].nullCount == (0..<5000).filter { $0 % 7 == 0 }.count)
    }

    @Test func emptyResultKeepsItsSchema() throws {
        let r = try Database().connect().query("SELECT 1::INTEGER AS a, 'x' AS b, now() AS c WHERE false")
        #expect(r.rowCount == 0)
        #expect(r.columnNames == ["a", "b", "c"])
        #expect(r.columns.map(\.type) == [.int32, .varchar, .timestampTZ])
    }

    @Test func unsupportedTypeFailsNamingTypeAndColumn() throws {
        let connection = try Database().connect()
        let error = #expect(throws: DuckDBError.self) { try connection.query("SELECT union_value(k := 1) AS numbers") }
        #expect(error?.kind == .unsupportedType)
        #expect(error?.message.contains("UNION") == true)
        #expect(error?.message.contains("numbers") == true)
        #expect(try connection.query("SELECT 2 AS ok").row(0) == [.int(2)])
    }

    @Test func badSQLCarriesDuckDBsMessage() throws {
        let connection = try Database().connect()
        let error = #expect(throws: DuckDBError.self) { try connection.query("SELEC 1") }
        #expect(error?.kind == .prepare)
        #expect(error?.message.contains("syntax error") == true)
        let missing = #expect(throws: DuckDBError.self) { try connection.query("SELECT * FROM no_such_table") }
        #expect(missing?.message.contains("no_such_table") == true)
        let runtime = #expect(throws: DuckDBError.self) { try connection.query("SELECT 'abc'::INTEGER + i FROM range(3) r(i)") }
        #expect(runtime?.message.contains("abc") == true)
    }

    @Test func parametersAreBoundByTypeNeverSpliced() throws {
        let connection = try Database().connect()
        let hostile = "x'); DROP TABLE t; --"
        let when = Date(timeIntervalSince1970: 1_704_067_200.25)
        let r = try connection.query(
            "SELECT ?::BIGINT AS i, ?::DOUBLE AS d, ?::VARCHAR AS s, ?::BOOLEAN AS b, ?::DATE AS day, ?::TIMESTAMP AS ts, ?::TIMESTAMPTZ AS tz, ?::INTEGER AS n, ?::BLOB AS bl",
            [42, 2.5, .string(hostile), true, .date(days: 19782), .timestamp(when), .timestampTZ(when), nil, .blob([1, 2, 0])])
        #expect(r.row(0) == [
            .int(42), .double(2.5), .string(hostile), .bool(true), .date(19782), .timestamp(1_704_067_200_250_000),
            .timestampTZ(1_704_067_200_250_000), .null, .blob([1, 2, 0]),
        ])
        let wrongCount = #expect(throws: DuckDBError.self) { try connection.query("SELECT ?::INTEGER", []) }
        #expect(wrongCount?.kind == .bind)
    }

    @Test func scriptsReportWhatTheLastStatementProduced() throws {
        let connection = try Database().connect()
        #expect(try connection.execute("CREATE TABLE t (a INTEGER, b VARCHAR)") == .nothing)
        #expect(try connection.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, NULL)") == .changedRows(3))
        #expect(try connection.execute("UPDATE t SET b = 'z' WHERE a >= 2") == .changedRows(2))
        guard case .rows(let r) = try connection.execute("DELETE FROM t WHERE a = 1; SELECT a, b FROM t ORDER BY a") else {
            Issue.record("expected rows")
            return
        }
        #expect(r.rowCount == 2)
        #expect(r.row(0) == [.int(2), .string("z")])
    }

    @Test func transactionsRollBackWhenTheBodyThrows() throws {
        struct Boom: Error {}
        let connection = try Database().connect()
        _ = try connection.execute("CREATE TABLE t (a INTEGER)")
        #expect(throws: Boom.self) {
            try connection.transaction {
                _ = try connection.execute("INSERT INTO t VALUES (1)")
                throw Boom()
            }
        }
        try connection.transaction { _ = try connection.execute("INSERT INTO t VALUES (2)") }
        #expect(try connection.query("SELECT a FROM t").row(0) == [.int(2)])
        #expect(try connection.query("SELECT count(*) AS n FROM t").row(0) == [.int(1)])
    }

    @Test func appenderInsertsRowsOfEveryBindableType() throws {
        let connection = try Database().connect()
        _ = try connection.execute("CREATE TABLE e (id BIGINT, amount DOUBLE, name VARCHAR, ok BOOLEAN, day DATE, ts TIMESTAMP, note VARCHAR)")
        let appender = try connection.appender(table: "e")
        #expect(appender.columnCount == 7)
        for i in 0..<3000 {
            try appender.appendRow([
                .int(Int64(i)), .double(Double(i) / 4), .string("n\(i)"), .bool(i % 2 == 0), .date(days: Int32(i)),
                .timestamp(micros: Int64(i) * 1_000_000), i % 5 == 0 ? .null : .string("ü\(i)"),
            ])
        }
        try appender.close()
        let r = try connection.query("SELECT * FROM e ORDER BY id")
        #expect(r.rowCount == 3000)
        #expect(r.row(2999) == [.int(2999), .double(749.75), .string("n2999"), .bool(false), .date(2999), .timestamp(2_999_000_000), .string("ü2999")])
        #expect(r.columns[6].nullCount == 600)
        #expect(throws: DuckDBError.self) { try appender.append(1) }
    }

    @Test func appenderRejectsRowsOfTheWrongShape() throws {
        let connection = try Database().connect()
        _ = try connection.execute("CREATE TABLE small (a INTEGER, b INTEGER)")
        let appender = try connection.appender(table: "small")
        try appender.append(1)
        let error = #expect(throws: DuckDBError.self) { try appender.endRow() }
        #expect(error?.kind == .appender)
        #expect(throws: DuckDBError.self) { try connection.appender(table: "missing_table") }
    }

    @Test func interruptWhileIdleDoesNotAffectTheNextStatement() throws {
        let connection = try Database().connect()
        connection.interruptHandle.interrupt()
        #expect(try connection.query("SELECT 42 AS x").row(0) == [.int(42)])
    }

    @Test func readOnlyDatabaseRefusesWrites() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let path = dir.appendingPathComponent("ro.duckdb").path
        do {
            let rw = try Database(path: path).connect()
            _ = try rw.execute("CREATE TABLE t AS SELECT 1 AS a")
        }
        let ro = try Database(path: path, configuration: .init(accessMode: .readOnly)).connect()
        #expect(try ro.query("SELECT a FROM t").row(0) == [.int(1)])
        let error = #expect(throws: DuckDBError.self) { try ro.execute("INSERT INTO t VALUES (2)") }
        #expect(error?.message.localizedCaseInsensitiveContains("read-only") == true)
        #expect(throws: DuckDBError.self) {
            try Database(path: dir.appendingPathComponent("absent.duckdb").path, configuration: .init(accessMode: .readOnly))
        }
    }

    @Test func configurationReachesDuckDB() throws {
        let db = try Database(configuration: .init(threads: 1, memoryLimit: "256MB"))
        let r = try db.connect().query("SELECT current_setting('threads') AS t, current_setting('memory_limit') AS m")
        #expect(r.row(0)[0] == .int(1))
        guard case .string(let limit) = r.row(0)[1] else { Issue.record("no memory limit"); return }
        #expect(limit.contains("MiB") || limit.contains("MB"))
        #expect(throws: DuckDBError.self) { try Database(configuration: .init(options: ["no_such_option": "1"])) }
        #expect(["v1.4.4", "v2.0.1"].contains(Database.libraryVersion))
    }
}
