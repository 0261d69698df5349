import CacheTestSupport
import AnalyticsCache
import Foundation
import Testing
import TestSupport

/// Queries declared in a JSON file register like queries declared in code; a wrong field is named.
@Suite struct QueryCatalogTests {
    static let catalog = #"""
    { "queries": [
      { "id": "tenant-totals", "scope": "tenant",
        "sql": "SELECT count(*) AS n, coalesce(sum(amount), 0)::BIGINT AS total FROM orders WHERE tenant = ? AND amount >= ?",
        "parameters": [ { "name": "min", "type": "integer", "default": "0", "min": 0, "max": 1000000 } ],
        "expiry": { "ttl": 300 } },
      { "id": "days", "sql": "SELECT count(*) AS n FROM orders WHERE occurred_at >= epoch_us(?::DATE) AND occurred_at < epoch_us(?::DATE)",
        "parameters": [ { "name": "from", "type": "date" }, { "name": "to", "type": "date" } ],
        "eventTime": { "from": "from", "to": "to" }, "expiry": { "window": "day", "timeZone": "Europe/Paris" } },
      { "id": "customer", "sql": "SELECT count(*) AS n FROM orders WHERE customer = ?",
        "parameters": [ { "name": "customer", "type": "text", "maxLength": 64 } ],
        "dependencies": { "only": ["events/Customer/{customer}"] } },
      { "id": "regions", "sql": "SELECT count(*) AS n FROM regions", "parameters": [
        { "name": "kind", "type": "text", "oneOf": ["a", "b"], "default": "a" } ] }
    ] }
    """#

    @Test func aCatalogRegistersItsQueriesWithTheirRules() async throws {
        let harness = try await Harness(disk: false)
        defer { TestSupport.remove(harness.root) }
        let catalog = try QueryCatalog(json: Data(Self.catalog.utf8))
        #expect(catalog.queries.map(\.id) == ["tenant-totals", "days", "customer", "regions"])
        #expect(catalog.queries[0].expiry == .ttl(.seconds(300)))
        #expect(catalog.queries[1].expiry == .window(CalendarWindow(.day, timeZone: "Europe/Paris")))
        #expect(catalog.queries[1].eventTime == EventTimeRange(from: "from", to: "to"))
        #expect(catalog.queries[2].dependencies == .only(["events/Customer/{customer}"]))
        try await harness.cache.register(catalog)
        #expect(harness.cache.dependencies(of: "customer")?.eventTypes == [])
        #expect(harness.cache.dependencies(of: "tenant-totals")?.eventTypes == ["OrderPlaced"])
        let result = try await harness.cache.result(for: "tenant-totals", textParameters: [:], scope: ScopeValue(tenant: "t"))
        #expect(try Harness.integer(result) == 0)
        await #expect(throws: ParameterError.self) {
            _ = try await harness.cache.result(for: "regions", textParameters: ["kind": "c"])
        }
        await harness.shutdown()
    }

    @Test func aWrongFieldIsNamedWithItsQuery() {
        let cases = [
            (#"{"queries":[{"id":"q","sql":"SELECT 1","expiry":{"ttl":-1}}]}"#, "query 0 (q): expiry"),
            (#"{"queries":[{"id":"q","sql":"SELECT 1","dependencies":{"only":[],"adding":[]}}]}"#, "only or adding"),
            (#"{"queries":[{"id":"q","sql":"SELECT 1","parameters":[{"name":"p","type":"integer","default":"x"}]}]}"#, "parameter p: default"),
            (#"{"queries":[{"id":"q","sql":"SELECT 1","parameters":[{"name":"p","type":"float"}]}]}"#, "not valid"),
            (#"{"queries":[{"sql":"SELECT 1"}]}"#, "not valid"),
        ]
        for (json, expected) in cases {
            do {
                _ = try QueryCatalog(json: Data(json.utf8))
                Issue.record("accepted: \(json)")
            } catch {
                #expect("\(error)".contains(expected), "\(error)")
            }
        }
    }

    static let yaml = """
    # The same catalog as the JSON one, in YAML (from a .yaml file).
    queries:
      - id: tenant-totals
        scope: tenant
        sql: SELECT count(*) AS n, coalesce(sum(amount), 0)::BIGINT AS total FROM orders WHERE tenant = ? AND amount >= ?
        parameters:
          - { name: min, type: integer, default: 0, min: 0, max: 1000000 }
        expiry: { ttl: 300 }
      - id: days
        sql: >-
          SELECT count(*) AS n FROM orders
          WHERE occurred_at >= epoch_us(?::DATE) AND occurred_at < epoch_us(?::DATE)
        parameters: [ { name: from, type: date }, { name: to, type: date } ]
        eventTime: { from: from, to: to }
        expiry: { window: day, timeZone: Europe/Paris }
      - id: customer
        sql: SELECT count(*) AS n FROM orders WHERE customer = ?
        parameters: [ { name: customer, type: text, maxLength: 64 } ]
        dependencies: { only: ["events/Customer/{customer}"] }
      - id: regions
        sql: SELECT count(*) AS n FROM regions
        parameters: [ { name: kind, type: text, oneOf: [a, b], default: a } ]
    """

    @Test func aYAMLFileDeclaresTheSameQueriesAsJSON() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let file = dir.appendingPathComponent("queries.yaml")
        try Data(Self.yaml.utf8).write(to: file)
        let fromYAML = try QueryCatalog(contentsOf: file)
        let fromJSON = try QueryCatalog(json: Data(Self.catalog.utf8))
        #expect(fromYAML.queries.map(\.id) == fromJSON.queries.map(\.id))
        for (yaml, json) in zip(fromYAML.queries, fromJSON.queries) {
            #expect(yaml.sql == json.sql && yaml.expiry == json.expiry && yaml.eventTime == json.eventTime && yaml.scope == json.scope)
            #expect(yaml.dependencies == json.dependencies)
            #expect("\(yaml.parameters)" == "\(json.parameters)", "\(yaml.id)")
        }
        // A wrong field is named in YAML too; a file that is not there is a clear error.
        #expect(throws: QueryCatalogError.self) { try QueryCatalog(yaml: "queries:\n  - id: q\n    sql: SELECT 1\n    expiry: { ttl: -1 }\n") }
        #expect(throws: QueryCatalogError.self) { try QueryCatalog(contentsOf: dir.appendingPathComponent("missing.yml")) }
    }
}
