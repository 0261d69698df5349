import Deployment
import DuckDBClient
import Foundation
import Testing
import TestSupport

/// A `format: duckdb` dataset: attached read-only when the database opens, checked against the
/// same restrictions as the live database, readable by queries as `name.table`, never writable.
@Suite struct DuckDBDatasetTests {
    static func config(_ file: String, query: String) -> String {
        """
        datasets:
          ref: {path: '\(file)', format: duckdb}
        queries:
          - id: prices
            sql: \(query)
        """
    }

    /// A DuckDB file with a table of plan prices (the creating database is closed on return).
    static func makeFile(in dir: URL) throws -> String {
        let file = dir.appendingPathComponent("reference.duckdb").path
        let database = try Database(path: file)
        let connection = try database.connect()
        _ = try connection.execute("CREATE TABLE plans AS SELECT * FROM (VALUES ('free', 0), ('pro', 1200), ('team', 4900)) t(plan, cents)")
        return file
    }

    @Test func anAttachedDuckDBFileIsCheckedAndReadableButNotWritable() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let file = try Self.makeFile(in: dir)
        let config = DeploymentConfig(text: Self.config(file, query: "SELECT sum(cents)::BIGINT AS total FROM ref.plans"), directory: dir)
        #expect(config.problems.isEmpty, "\(config.problems)")
        #expect(config.attachments.map(\.alias) == ["ref"])
        let check = ConfigCheck.run(config)
        #expect(check.problems.isEmpty, "\(check.problems.map(\.description))")
        #expect(check.graph.first?.datasets == ["ref"])

        // The live database's configuration: the file is attached, read-only.
        let live = try Database(configuration: config.databaseConfiguration)
        let connection = try live.connect()
        #expect(try connection.query("SELECT sum(cents)::BIGINT AS total FROM ref.plans").row(0) == [.int(6100)])
        #expect(throws: DuckDBError.self) { _ = try connection.execute("INSERT INTO ref.plans VALUES ('x', 1)") }
        // Nothing beyond the declared datasets is readable.
        #expect(throws: DuckDBError.self) { _ = try connection.query("SELECT * FROM read_csv('/etc/passwd')") }
    }

    @Test func aQueryReadingATableTheFileLacksIsRefusedByTheCheck() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let file = try Self.makeFile(in: dir)
        let check = ConfigCheck.run(DeploymentConfig(text: Self.config(file, query: "SELECT count(*) AS n FROM ref.prices"), directory: dir))
        #expect(!check.isValid)
        #expect(check.problems.contains { $0.description.contains("query prices") && $0.description.contains("prices") }, "\(check.problems.map(\.description))")
    }

    @Test func aMissingDuckDBFileIsAProblemNotACrash() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let check = ConfigCheck.run(DeploymentConfig(
            text: Self.config(dir.appendingPathComponent("absent.duckdb").path, query: "SELECT 1 AS one"), directory: dir))
        #expect(!check.isValid, "a dataset file that does not exist must be refused")
    }
}
