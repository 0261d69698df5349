import Deployment
import DuckDBClient
import EventLogCore
import EventProjection
import Foundation
import Testing

/// A projection statement's payload values reach DuckDB byte for byte.
@Suite struct StatementBindingTests {
    @Test(arguments: ["team", "pro", "a", "twelve bytes", "thirteen byte", "ünïcødé ✓", ""])
    func aStringFromThePayloadIsStoredExactly(plan: String) throws {
        let config = DeploymentConfig(text: """
            events:
              PlanChanged: { payload: { plan: string } }
            projections:
              - name: users
                tables: { users: "user_id VARCHAR PRIMARY KEY, plan VARCHAR NOT NULL" }
                statements: { PlanChanged: "UPDATE users SET plan = $payload.plan WHERE user_id = $aggregate_id" }
            """, directory: URL(fileURLWithPath: "/"))
        #expect(config.problems.isEmpty, "\(config.problems)")
        let projection = try #require(config.projectorProjections.first)
        guard case .statement(let sql, let parameters) = projection.apply else { Issue.record("not a statement"); return }
        let payload = String(decoding: try JSONSerialization.data(withJSONObject: ["plan": plan], options: [.sortedKeys]), as: UTF8.self)
        let event = RecordedEvent(position: 2, aggregate: AggregateID(type: "User", id: "u1"), version: 2, type: "PlanChanged",
                                  payload: payload, metadata: "{}", recordedAt: 0)
        let values = try parameters(event)
        #expect(values == [.string(plan), .string("u1")])
        let database = try Database()
        let connection = try database.connect()
        _ = try connection.execute("CREATE TABLE users (user_id VARCHAR PRIMARY KEY, plan VARCHAR NOT NULL); INSERT INTO users VALUES ('u1', 'pro')")
        _ = try connection.prepare(sql).execute(values)
        let stored = try connection.query("SELECT plan, length(plan) FROM users").row(0)
        #expect(stored == [.string(plan), .int(Int64(plan.count))], "\(stored)")
    }
}

extension StatementBindingTests {
    @Test func anUpdatedStringReadThroughThePoolIsExact() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("binding-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let database = try Database(path: dir.appendingPathComponent("d.duckdb").path)
        let writer = try DuckDBWriter(database: database)
        let pool = try DuckDBPool(database: database, configuration: .init(connections: 2, readOnly: true))
        try await writer.write { c in
            _ = try c.execute("CREATE TABLE users (user_id VARCHAR PRIMARY KEY, plan VARCHAR NOT NULL, country VARCHAR, signed_up_at TIMESTAMP NOT NULL)")
            _ = try c.transaction { try c.prepare("INSERT OR REPLACE INTO users VALUES (?, ?, ?, ?)").execute([.string("u1"), .string("pro"), .null, .timestamp(micros: 0)]) }
        }
        let sql = "SELECT plan, count(*) AS users FROM users GROUP BY plan ORDER BY plan"
        _ = try await pool.query(sql)
        try await writer.write { c in
            _ = try c.transaction { try c.prepare("UPDATE users SET plan = ? WHERE user_id = ?").execute([.string("team"), .string("u1")]) }
        }
        let row = try await pool.query(sql).row(0)
        #expect(row[0] == .string("team"), "\(row)")
        let plain = try await pool.query("SELECT plan FROM users").row(0)
        #expect(plain[0] == .string("team"), "plain \(plain)")
        let viaWriter = try await writer.write { try $0.query(sql).row(0) }
        #expect(viaWriter[0] == .string("team"), "writer \(viaWriter)")
        let other = try await pool.query(sql + " -- another text").row(0)
        #expect(other[0] == .string("team"), "fresh statement \(other)")
        await pool.shutdown()
        await writer.shutdown()
    }
}
