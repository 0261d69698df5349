import DuckDBClient
import Foundation
import ResultFormat
import TestSupport
import Testing

/// A read-only pool runs SELECT statements and nothing else, and its queries reach no file or URL
/// unless configured; the session is pinned so answers do not depend on the host.
@Suite struct ReadOnlyPoolTests {
    static func servedPool(_ database: Database, allowsExternalAccess: Bool = false) throws -> DuckDBPool {
        try DuckDBPool(database: database, configuration: .init(connections: 2, readOnly: true, allowsExternalAccess: allowsExternalAccess))
    }

    @Test func onlySelectStatementsRun() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let database = try Database()
        let writer = try DuckDBWriter(database: database)
        try await writer.write { _ = try $0.execute("CREATE TABLE t (i INTEGER); INSERT INTO t VALUES (1), (2)") }
        let pool = try Self.servedPool(database)
        #expect(try await pool.query("WITH x AS (SELECT i FROM t) SELECT max(i) AS s FROM x").row(0) == [.int(2)])
        let refused = [
            "INSERT INTO t VALUES (3)", "UPDATE t SET i = 0", "DELETE FROM t", "CREATE TABLE u (i INTEGER)",
            "DROP TABLE t", "COPY t TO '\(dir.path)/t.csv'", "ATTACH '\(dir.path)/x.duckdb' AS x",
            "SET threads = 1", "BEGIN TRANSACTION", "PRAGMA enable_profiling", "CHECKPOINT", "LOAD httpfs",
            "EXPORT DATABASE '\(dir.path)/export'", "CALL pragma_version()",
        ]
        for sql in refused {
            await #expect(throws: DuckDBError.self, "\(sql)") { try await pool.query(sql) }
            await #expect(throws: DuckDBError.self, "\(sql) as a script") { try await pool.execute(sql) }
        }
        // A script smuggling a write in front of a SELECT runs nothing.
        await #expect(throws: DuckDBError.self) { try await pool.query("INSERT INTO t VALUES (9); SELECT 1") }
        await #expect(throws: DuckDBError.self) { try await pool.execute("INSERT INTO t VALUES (9); SELECT 1") }
        await #expect(throws: DuckDBError.self) {
            try await pool.withConnection { connection in try connection.appender(table: "t").append(.int(9)) }
        }
        #expect(try await pool.query("SELECT count(*) AS n FROM t").row(0) == [.int(2)])
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("t.csv").path))
        do {
            _ = try await pool.query("INSERT INTO t VALUES (3)")
        } catch let error as DuckDBError {
            #expect(error.kind == .readOnly)
            #expect(error.message.contains("INSERT"))
        }
        await pool.shutdown()
        await writer.shutdown()
    }

    @Test func servedQueriesCannotReadFilesUnlessAllowed() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let secret = dir.appendingPathComponent("secret.csv")
        try "k\n42\n".write(to: secret, atomically: true, encoding: .utf8)
        do {
            let pool = try Self.servedPool(try Database())
            for sql in ["SELECT * FROM read_csv('\(secret.path)')", "SELECT * FROM read_text('\(secret.path)')", "SELECT * FROM glob('\(dir.path)/*')"] {
                await #expect(throws: DuckDBError.self, "\(sql)") { try await pool.query(sql) }
            }
            await pool.shutdown()
        }
        // Configured: the pool keeps the database's access.
        let open = try Self.servedPool(try Database(), allowsExternalAccess: true)
        #expect(try await open.query("SELECT k FROM read_csv('\(secret.path)')").row(0) == [.int(42)])
        await open.shutdown()
        // Or the database allows exactly the dataset's directory.
        let scoped = try Self.servedPool(try Database(configuration: .init(externalAccess: .only([dir.path + "/"]))))
        #expect(try await scoped.query("SELECT k FROM read_csv('\(secret.path)')").row(0) == [.int(42)])
        await #expect(throws: DuckDBError.self) { try await scoped.query("SELECT * FROM read_text('/etc/hostname')") }
        await scoped.shutdown()
    }

    @Test func statementTypesAndTablesOfAQueryComeFromDuckDB() async throws {
        let database = try Database()
        let pool = try DuckDBPool(database: database, configuration: .init(connections: 1))
        _ = try await pool.execute("CREATE SCHEMA s; CREATE TABLE a (k INTEGER); CREATE TABLE s.b (k INTEGER); CREATE TABLE c (y INTEGER)")
        let sql = "WITH w AS (SELECT k FROM a) SELECT * FROM w JOIN s.b ON w.k = b.k WHERE w.k IN (SELECT y FROM c)"
        // The CTE is not a table; the schema-qualified one is found by its name.
        #expect(try await pool.tableNames(in: sql) == ["a", "b", "c"])
        #expect(try await pool.tableNames(in: sql, qualified: true) == ["a", "c", "s.b"])
        #expect(try await pool.tableNames(in: "SELECT 1") == [])
        await #expect(throws: DuckDBError.self) { try await pool.tableNames(in: "SELEC nonsense FROM") }
        // A statement that does not bind is an error with DuckDB's message, never "no tables".
        await #expect(throws: DuckDBError.self) { try await pool.tableNames(in: "SELECT * FROM a JOIN s.b USING (nope)") }
        #expect(try await pool.statementType(of: sql) == .select)
        #expect(try await pool.statementType(of: "INSERT INTO a VALUES (1)") == .insert)
        #expect(try await pool.statementType(of: "SELECT count(*) FROM a").name == "SELECT")
        await pool.shutdown()
    }

    @Test func everyConnectionRunsInUTCUnlessConfiguredAndTheSettingsAreExposed() async throws {
        let query = "SELECT current_setting('TimeZone') AS tz, (TIMESTAMPTZ '2024-01-01 06:00:00+00')::DATE AS d"
        let utc = try DuckDBPool(database: try Database(), configuration: .init(connections: 2))
        for _ in 0..<4 {
            #expect(try await utc.query(query).row(0) == [.string("UTC"), .date(19723)])
        }
        #expect(utc.database.resultSettings["TimeZone"] == "UTC")
        #expect(utc.database.resultSettings["duckdb_version"] == Database.libraryVersion)
        #expect(utc.database.resultSettings["default_null_order"] != nil)
        let la = try DuckDBPool(database: try Database(configuration: .init(timeZone: "America/Los_Angeles")), configuration: .init(connections: 1))
        #expect(try await la.query(query).row(0) == [.string("America/Los_Angeles"), .date(19722)])
        #expect(la.database.resultSettings["TimeZone"] == "America/Los_Angeles")
        #expect(la.database.resultSettings != utc.database.resultSettings)
        await #expect(throws: DuckDBError.self) { try Database(configuration: .init(timeZone: "Mars/Olympus")) }
        await utc.shutdown()
        await la.shutdown()
    }
}
