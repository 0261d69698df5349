import CacheTestSupport
import AnalyticsCache
import DuckDBClient
import EventProjection
import EventStore
import Foundation
import Testing
import TestSupport

/// Registration: SELECT only, dependencies derived from real SQL, parameters validated with errors
/// that name the parameter and the rule, keys canonical.
@Suite struct RegistryTests {
    @Test func dependenciesAreDerivedFromTheTablesTheSQLReads() async throws {
        let harness = try await Harness(disk: false)
        defer { TestSupport.remove(harness.root) }
        _ = try await harness.writer.write { connection in
            try connection.execute("CREATE OR REPLACE VIEW big_orders AS SELECT * FROM orders WHERE amount > 100")
        }
        let cases: [(String, String, Set<String>, Bool)] = [
            ("join", "SELECT r.name, count(*) FROM orders o JOIN regions r ON r.name = o.customer GROUP BY r.name", ["OrderPlaced"], false),
            ("cte", "WITH t AS (SELECT tenant, sum(amount) s FROM orders GROUP BY tenant) SELECT * FROM t WHERE s > ?", ["OrderPlaced"], false),
            ("subquery", "SELECT name FROM regions WHERE name IN (SELECT customer FROM orders WHERE tenant = ?)", ["OrderPlaced"], false),
            // DuckDB 1.4.4's table listing fails to bind this view ("unnamed_subquery has 1
            // columns available but 3 columns specified"): its tables come from the plan's scans.
            ("view", "SELECT count(*) FROM big_orders", ["OrderPlaced"], false),
            ("view-parameters", "SELECT count(*) FROM big_orders WHERE tenant = ?", ["OrderPlaced"], false),
            ("static", "SELECT count(*) AS n FROM regions", [], false),
            ("no-table", "SELECT 42 AS n", [], true),
        ]
        for (id, sql, types, everything) in cases {
            let parameters = sql.contains("?") ? [ParameterSpec("p", sql.contains("s > ?") ? .integer : .text)] : []
            try await harness.cache.register(QueryDefinition(id: id, sql: sql, parameters: parameters))
            let dependencies = try #require(harness.cache.dependencies(of: id))
            #expect(dependencies.eventTypes == types, "\(id): \(dependencies.tables)")
            #expect(dependencies.everything == everything, "\(id)")
        }
        await harness.shutdown()
    }

    @Test func onlyASingleSelectIsRegistered() async throws {
        let harness = try await Harness(disk: false)
        defer { TestSupport.remove(harness.root) }
        for sql in ["DELETE FROM orders", "INSERT INTO regions VALUES ('x')", "CREATE TABLE x (a INT)", "SELECT 1; SELECT 2", "PRAGMA version"] {
            await #expect(throws: (any Error).self, "\(sql)") { try await harness.cache.register(QueryDefinition(id: "q", sql: sql)) }
        }
        try await harness.cache.register(QueryDefinition(id: "q", sql: "SELECT 1 AS n"))
        await #expect(throws: AnalyticsCacheError.self) { try await harness.cache.register(QueryDefinition(id: "q", sql: "SELECT 2 AS n")) }
        await #expect(throws: AnalyticsCacheError.self) { try await harness.cache.register(QueryDefinition(id: "bad id", sql: "SELECT 1")) }
        await #expect(throws: AnalyticsCacheError.self) {
            try await harness.cache.register(QueryDefinition(id: "e", sql: "SELECT 1", dependencies: .only(["events/Customer/{missing}"])))
        }
        await harness.shutdown()
    }

    @Test func parameterErrorsNameTheParameterAndTheRule() throws {
        let query = QueryDefinition(id: "q", sql: "SELECT 1", parameters: [
            ParameterSpec("limit", .integer, default: .integer(10), rule: .range(min: 1, max: 100)),
            ParameterSpec("region", .text, rule: .oneOf([.text("eu"), .text("us")])),
            ParameterSpec("ratio", .double),
            ParameterSpec("day", .date, default: .date(0)),
        ])
        func error(_ given: [String: String]) -> ParameterError? {
            do { _ = try query.validate(text: given, scope: .none); return nil } catch { return error as? ParameterError }
        }
        #expect(error(["region": "eu"])?.parameter == "ratio")
        #expect(error(["region": "eu"])?.rule == "is required")
        #expect(error(["region": "asia", "ratio": "1"])?.rule.contains("one of eu, us") == true)
        #expect(error(["region": "eu", "ratio": "1", "limit": "0"])?.rule == "must be at least 1, got 0")
        #expect(error(["region": "eu", "ratio": "1", "limit": "x"])?.rule.contains("integer") == true)
        #expect(error(["region": "eu", "ratio": "NaN"])?.rule.contains("finite") == true)
        #expect(error(["region": "eu", "ratio": "1", "day": "2023-02-29"])?.parameter == "day")
        #expect(error(["region": "eu", "ratio": "1", "other": "x"])?.parameter == "other")
        let values = try query.validate(text: ["region": "eu", "ratio": "-0.0", "day": "2024-02-29"], scope: .none)
        #expect(values == [.integer(10), .text("eu"), .double(0), .date(19_782)])
    }

    @Test func theSameLogicalRequestHasOneKeyAndAnotherTenantNeverSharesIt() throws {
        let query = QueryDefinition(id: "q", sql: "SELECT 1", parameters: [
            ParameterSpec("name", .text), ParameterSpec("x", .double, default: .double(1)),
        ], scope: .tenant)
        func key(_ given: [String: ParameterValue], _ tenant: String) throws -> CacheKey {
            let values = try query.validate(given, scope: ScopeValue(tenant: tenant))
            return CacheKey(query: "q", parameters: values, scope: (.tenant, tenant), dataVersion: "1")
        }
        // NFC and NFD spellings of é, −0.0 and 0.0, default and explicit: one key.
        #expect(try key(["name": .text("caf\u{E9}"), "x": .double(-0.0)], "a") == key(["name": .text("cafe\u{301}"), "x": .double(0)], "a"))
        #expect(try key(["name": .text("n")], "a") == key(["name": .text("n"), "x": .double(1)], "a"))
        #expect(try key(["name": .text("n"), "x": .integer(1)], "a") == key(["name": .text("n"), "x": .double(1)], "a"))
        // Property: over random tenants and values, keys are equal exactly when the requests are.
        var random = SeededRandom(seed: 77)
        var seen: [CacheKey: String] = [:]
        for _ in 0..<20_000 {
            let tenant = ["a", "b", "a|b", "ab", "", "t:1"][random.below(6)]
            let name = ["", "a", "b", "a|b", "1:a", "t"][random.below(6)]
            let x = [0.0, 1.0, -1.0, 0.5][random.below(4)]
            let identity = "\(tenant.utf8.count):\(tenant)|\(name.utf8.count):\(name)|\(x)"
            guard !tenant.isEmpty else {
                #expect(throws: ParameterError.self) { _ = try key(["name": .text(name), "x": .double(x)], tenant) }
                continue
            }
            let k = try key(["name": .text(name), "x": .double(x)], tenant)
            if let other = seen[k] { #expect(other == identity, "\(k) shared by \(other) and \(identity)") }
            seen[k] = identity
        }
    }
}
