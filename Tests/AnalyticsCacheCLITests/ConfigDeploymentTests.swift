import Foundation
import Synchronization
import Testing
import TestSupport

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The config-only deployment of `examples/pageviews` run as a team would: `serve --config`, events
/// posted and queries read over HTTP, a reload with an invalid file and one with a changed
/// projection while clients keep posting and reading.
@Suite(.timeLimit(.minutes(6))) struct ConfigDeploymentTests {
    static let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples/pageviews")

    /// A copy of the example (config and dataset) in a temporary directory.
    static func copyOfExample() throws -> URL {
        let dir = try TestSupport.temporaryDirectory()
        for file in ["config.yaml", "plans.csv"] {
            try FileManager.default.copyItem(at: example.appendingPathComponent(file), to: dir.appendingPathComponent(file))
        }
        return dir
    }

    static func start(_ dir: URL) throws -> ServeCommandTests.Server {
        try ServeCommandTests.Server.start(
            dataDir: dir.appendingPathComponent("data").path,
            arguments: ["--config", dir.appendingPathComponent("config.yaml").path, "--port", "0", "--admin-token", "admin"])
    }

    static func post(_ base: String, type: String, aggregate: (String, String), payload: String) async throws -> (status: Int, body: String) {
        let body = #"{"aggregateType":"\#(aggregate.0)","aggregateId":"\#(aggregate.1)","events":[{"type":"\#(type)","payload":\#(payload)}]}"#
        var request = URLRequest(url: try #require(URL(string: base + "/api/events")))
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(body.utf8)
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    static func rows(_ base: String, _ path: String) async throws -> (status: Int, rows: [[String: Any]], body: String) {
        let (data, response) = try await URLSession.shared.data(from: try #require(URL(string: base + path)))
        let rows = (try? JSONSerialization.jsonObject(with: data)) as? [[String: Any]] ?? []
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, rows, String(decoding: data, as: UTF8.self))
    }

    static func reload(_ base: String) async throws -> (status: Int, body: String) {
        var request = URLRequest(url: try #require(URL(string: base + "/api/admin/reload")))
        request.httpMethod = "POST"
        request.setValue("Bearer admin", forHTTPHeaderField: "Authorization")
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    @Test func theExampleServesExactValuesComputedFromThePostedEvents() async throws {
        let dir = try Self.copyOfExample()
        defer { TestSupport.remove(dir) }
        let server = try Self.start(dir)
        defer { _ = server.stop() }
        // Deterministic events, and what they must give, computed here independently.
        var views: [(user: String, path: String)] = []
        var plans: [String: String] = [:]
        for user in 1...12 {
            let plan = ["free", "pro", "team"][user % 3]
            let signed = try await Self.post(server.url, type: "SignedUp", aggregate: ("User", "u\(user)"), payload: #"{"plan":"\#(plan)","country":"FR"}"#)
            #expect(signed.status == 201, "\(signed.body)")
            plans["u\(user)"] = plan
        }
        for user in [2, 5] {
            let changed = try await Self.post(server.url, type: "PlanChanged", aggregate: ("User", "u\(user)"), payload: #"{"plan":"team"}"#)
            #expect(changed.status == 201, "\(changed.body)")
            plans["u\(user)"] = "team"
        }
        for i in 0..<40 {
            let user = "u\(i % 7 + 1)", path = ["/", "/pricing", "/docs", "/blog/launch"][i % 4 == 3 ? 3 : (i * 7) % 3]
            let viewed = try await Self.post(server.url, type: "PageViewed", aggregate: ("Session", "s\(i % 9)"),
                                             payload: #"{"path":"\#(path)","userId":"\#(user)","durationMs":\#(i * 10)}"#)
            #expect(viewed.status == 201, "\(viewed.body)")
            views.append((user, path))
        }
        let top = try await Self.rows(server.url, "/api/queries/top-pages?limit=100")
        #expect(top.status == 200, "\(top.body)")
        func cells(_ rows: [[String: Any]], _ keys: [String]) -> [String] {
            rows.map { row in keys.map { key in row[key].map { "\($0)" } ?? "nil" }.joined(separator: "|") }
        }
        var counts: [String: (views: Int, users: Set<String>)] = [:]
        for view in views { counts[view.path, default: (0, [])].views += 1; counts[view.path, default: (0, [])].users.insert(view.user) }
        let order: [String] = counts.keys.sorted { a, b in
            let x = counts[a]?.views ?? 0, y = counts[b]?.views ?? 0
            return x != y ? x > y : a < b
        }
        let expectedTop: [String] = order.map { "\($0)|\(counts[$0]?.views ?? 0)|\(counts[$0]?.users.count ?? 0)" }
        #expect(cells(top.rows, ["path", "views", "visitors"]) == expectedTop)
        let byPlan = try await Self.rows(server.url, "/api/queries/users-by-plan")
        var planCounts: [String: Int] = [:]
        for plan in plans.values { planCounts[plan, default: 0] += 1 }
        let planNames: [String] = planCounts.keys.sorted()
        #expect(cells(byPlan.rows, ["plan", "users"]) == planNames.map { "\($0)|\(planCounts[$0] ?? 0)" })
        let revenue = try await Self.rows(server.url, "/api/queries/monthly-revenue")
        let price: [String: Int] = ["free": 0, "pro": 1200, "team": 4900]
        let expectedRevenue: [String] = planNames.map { "\($0)|\((planCounts[$0] ?? 0) * (price[$0] ?? 0))" }
        #expect(cells(revenue.rows, ["plan", "cents"]) == expectedRevenue, "\(revenue.body)")
        let mine = try await Self.rows(server.url, "/api/queries/visitor-pages?user=u3")
        var mineCounts: [String: Int] = [:]
        for view in views where view.user == "u3" { mineCounts[view.path, default: 0] += 1 }
        #expect(cells(mine.rows, ["path", "views"]) == mineCounts.keys.sorted().map { "\($0)|\(mineCounts[$0] ?? 0)" })

        // Events that do not match their schema are refused, naming the field; nothing is appended.
        let missing = try await Self.post(server.url, type: "PageViewed", aggregate: ("Session", "x"), payload: #"{"userId":"u1"}"#)
        #expect(missing.status == 400 && missing.body.contains("events[0].payload.path"), "\(missing.body)")
        let mistyped = try await Self.post(server.url, type: "PageViewed", aggregate: ("Session", "x"), payload: #"{"path":"/","userId":"u1","durationMs":"long"}"#)
        #expect(mistyped.status == 400 && mistyped.body.contains("payload.durationMs"), "\(mistyped.body)")
        let unknown = try await Self.post(server.url, type: "PageViewd", aggregate: ("Session", "x"), payload: #"{"path":"/"}"#)
        #expect(unknown.status == 400 && unknown.body.contains("PageViewd"), "\(unknown.body)")
        let totals = try await Self.rows(server.url, "/api/queries/totals")
        #expect(totals.rows.first?["views"] as? Int == 40, "\(totals.body)")
        #expect(server.stop() == 0)
    }

    /// Acknowledged page views and the highest count a read must show.
    final class Acknowledged: Sendable {
        let count = Mutex(0)
    }

    /// Posters and readers run together; every read that starts after a post returned counts it.
    static func load(_ base: String, posters: Int, each: Int, prefix: String, acknowledged: Acknowledged) async throws -> [String] {
        try await withThrowingTaskGroup(of: [String].self) { group in
            for poster in 0..<posters {
                group.addTask {
                    var problems: [String] = []
                    for i in 0..<each {
                        let posted = try await Self.post(base, type: "PageViewed", aggregate: ("Session", "\(prefix)\(poster)"),
                                                         payload: #"{"path":"/Docs/\#(i % 5)","userId":"\#(prefix)\#(poster)"}"#)
                        guard posted.status == 201 else { problems.append("post \(posted.status): \(posted.body)"); continue }
                        acknowledged.count.withLock { $0 += 1 }
                    }
                    return problems
                }
            }
            for _ in 0..<2 {
                group.addTask {
                    var problems: [String] = []
                    for _ in 0..<(posters * each) {
                        let floor = acknowledged.count.withLock { $0 }
                        let read = try await Self.rows(base, "/api/queries/totals")
                        let views = read.rows.first?["views"] as? Int ?? -1
                        if read.status != 200 || views < floor { problems.append("read \(read.status) \(views) views after \(floor) acknowledged: \(read.body)") }
                    }
                    return problems
                }
            }
            var all: [String] = []
            for try await problems in group { all += problems }
            return all
        }
    }

    @Test func concurrentPostersAndReadersNeverReadAStaleResult() async throws {
        let dir = try Self.copyOfExample()
        defer { TestSupport.remove(dir) }
        let server = try Self.start(dir)
        defer { _ = server.stop() }
        let acknowledged = Acknowledged()
        let problems = try await Self.load(server.url, posters: 4, each: 25, prefix: "p", acknowledged: acknowledged)
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        #expect(try await Self.rows(server.url, "/api/queries/totals").rows.first?["views"] as? Int == 100)
    }

    @Test func anInvalidReloadIsRefusedAndTheOldConfigKeepsServing() async throws {
        let dir = try Self.copyOfExample()
        defer { TestSupport.remove(dir) }
        let server = try Self.start(dir)
        defer { _ = server.stop() }
        #expect(try await Self.post(server.url, type: "SignedUp", aggregate: ("User", "u1"), payload: #"{"plan":"pro"}"#).status == 201)
        let config = dir.appendingPathComponent("config.yaml")
        let good = try String(contentsOf: config, encoding: .utf8)
        // A query reading a table nobody declares, and a statement binding a field the event lacks.
        let bad = good.replacingOccurrences(of: "FROM users GROUP BY plan ORDER BY plan", with: "FROM customers GROUP BY plan ORDER BY plan")
            .replacingOccurrences(of: "$payload.country", with: "$payload.region")
        try Data(bad.utf8).write(to: config)
        let refused = try await Self.reload(server.url)
        #expect(refused.status == 422, "\(refused.body)")
        #expect(refused.body.contains("customers") && refused.body.contains("$payload.region"), "\(refused.body)")
        // SIGHUP with the same file: refused too, and the server lives on.
        kill(server.process.processIdentifier, SIGHUP)
        let served = try await Self.rows(server.url, "/api/queries/users-by-plan")
        #expect(served.status == 200 && served.rows.first?["plan"] as? String == "pro", "\(served.body)")
        #expect(try await Self.post(server.url, type: "SignedUp", aggregate: ("User", "u2"), payload: #"{"plan":"team"}"#).status == 201)
        #expect(try await Self.rows(server.url, "/api/queries/users-by-plan").rows.count == 2)
        #expect(server.process.isRunning)
        #expect(server.stop() == 0)
    }

    static func cache(_ base: String, _ path: String) async throws -> (status: Int, cache: String, body: String) {
        let (data, response) = try await URLSession.shared.data(from: try #require(URL(string: base + path)))
        let http = response as? HTTPURLResponse
        return (http?.statusCode ?? 0, http?.value(forHTTPHeaderField: "X-Cache") ?? "", String(decoding: data, as: UTF8.self))
    }

    @Test func aReloadOfQueriesKeepsUnchangedEntriesAndDropsChangedAndRemovedOnes() async throws {
        let dir = try Self.copyOfExample()
        defer { TestSupport.remove(dir) }
        let server = try Self.start(dir)
        defer { _ = server.stop() }
        #expect(try await Self.post(server.url, type: "SignedUp", aggregate: ("User", "u1"), payload: #"{"plan":"pro"}"#).status == 201)
        for path in ["/api/queries/users-by-plan", "/api/queries/totals", "/api/queries/top-pages"] {
            _ = try await Self.cache(server.url, path)
            #expect(try await Self.cache(server.url, path).cache == "l1", "\(path) is cached before the reload")
        }
        // users-by-plan changes its SQL, totals is removed, top-pages stays as it was.
        let config = dir.appendingPathComponent("config.yaml")
        let edited = try String(contentsOf: config, encoding: .utf8)
            .replacingOccurrences(of: "SELECT plan, count(*) AS users FROM users GROUP BY plan ORDER BY plan",
                                  with: "SELECT plan, count(*) AS users, 'v2' AS version FROM users GROUP BY plan ORDER BY plan")
            .replacingOccurrences(of: "  - id: totals\n    sql: SELECT count(*) AS views, count(DISTINCT user_id) AS visitors FROM page_views\n", with: "")
        try Data(edited.utf8).write(to: config)
        let reloaded = try await Self.reload(server.url)
        #expect(reloaded.status == 200, "\(reloaded.body)")
        #expect(reloaded.body.contains(#""changed":["users-by-plan"]"#) && reloaded.body.contains(#""removed":["totals"]"#)
                && reloaded.body.contains(#""projectionsRebuilt":false"#), "\(reloaded.body)")
        let changed = try await Self.cache(server.url, "/api/queries/users-by-plan")
        // Its old entry is gone: the answer is the new SQL's (computed, or refreshed already by the
        // proactive refresh of a hot query).
        #expect(changed.status == 200 && changed.body.contains(#""version":"v2""#), "\(changed.cache) \(changed.body)")
        #expect(try await Self.cache(server.url, "/api/queries/top-pages").cache == "l1", "an unchanged query keeps its entry")
        #expect(try await Self.cache(server.url, "/api/queries/totals").status == 404)
        #expect(server.stop() == 0)
    }

    /// A reload that gives an event type a statement on a table: that event must invalidate the
    /// queries reading the table from then on, including results cached before the reload.
    @Test func aReloadAddingAStatementMakesItsEventsInvalidateTheQueriesOfItsTable() async throws {
        let dir = try Self.copyOfExample()
        defer { TestSupport.remove(dir) }
        let config = dir.appendingPathComponent("config.yaml")
        let full = try String(contentsOf: config, encoding: .utf8)
        let statement = "      PlanChanged:\n        - UPDATE users SET plan = $payload.plan WHERE user_id = $aggregate_id\n"
        #expect(full.contains(statement))
        try Data(full.replacingOccurrences(of: statement, with: "").utf8).write(to: config)
        let server = try Self.start(dir)
        defer { _ = server.stop() }
        #expect(try await Self.post(server.url, type: "SignedUp", aggregate: ("User", "u1"), payload: #"{"plan":"pro"}"#).status == 201)
        _ = try await Self.cache(server.url, "/api/queries/users-by-plan")
        #expect(try await Self.cache(server.url, "/api/queries/users-by-plan").cache == "l1")
        try Data(full.utf8).write(to: config)
        let reloaded = try await Self.reload(server.url)
        #expect(reloaded.status == 200 && reloaded.body.contains(#""projectionsRebuilt":true"#), "\(reloaded.body)")
        _ = try await Self.cache(server.url, "/api/queries/users-by-plan")
        #expect(try await Self.post(server.url, type: "PlanChanged", aggregate: ("User", "u1"), payload: #"{"plan":"team"}"#).status == 201)
        let after = try await Self.rows(server.url, "/api/queries/users-by-plan")
        #expect(after.rows.count == 1 && after.rows.first?["plan"] as? String == "team", "\(after.body)")
        #expect(server.stop() == 0)
    }

    @Test func aReloadWithAChangedProjectionRebuildsItWhileClientsPostAndRead() async throws {
        let dir = try Self.copyOfExample()
        defer { TestSupport.remove(dir) }
        let server = try Self.start(dir)
        let acknowledged = Acknowledged()
        let before = try await Self.load(server.url, posters: 2, each: 20, prefix: "a", acknowledged: acknowledged)
        #expect(before.isEmpty, "\(before.prefix(3))")
        // The new projection lower-cases paths and keeps the day; a query reads the new column.
        let config = dir.appendingPathComponent("config.yaml")
        let edited = try String(contentsOf: config, encoding: .utf8)
            .replacingOccurrences(of: "duration_ms BIGINT, viewed_at TIMESTAMP NOT NULL\"", with: "duration_ms BIGINT, viewed_at TIMESTAMP NOT NULL, day DATE\"")
            .replacingOccurrences(of: "VALUES ($position, $aggregate_id, $payload.path, $payload.userId, $payload.durationMs, $occurred_at)",
                                  with: "VALUES ($position, $aggregate_id, lower($payload.path), $payload.userId, $payload.durationMs, $occurred_at, CAST($occurred_at AS DATE))")
            .replacingOccurrences(of: "queries:\n", with: "queries:\n  - id: views-by-day\n    sql: SELECT day, count(*) AS views FROM page_views GROUP BY day ORDER BY day\n")
        try Data(edited.utf8).write(to: config)
        let reloaded: (status: Int, body: String)
        let during: [String]
        (reloaded, during) = try await {
            async let load = Self.load(server.url, posters: 3, each: 20, prefix: "b", acknowledged: acknowledged)
            async let reload = Self.reload(server.url)
            return try await (reload, load)
        }()
        #expect(reloaded.status == 200 && reloaded.body.contains(#""projectionsRebuilt":true"#), "\(reloaded.body)")
        #expect(reloaded.body.contains("views-by-day"), "the new query is reported as added: \(reloaded.body)")
        #expect(during.isEmpty, "no request failed and no read was stale during the reload: \(during.prefix(3))")
        let after = try await Self.load(server.url, posters: 1, each: 10, prefix: "c", acknowledged: acknowledged)
        #expect(after.isEmpty, "\(after.prefix(3))")
        let total = acknowledged.count.withLock { $0 }
        #expect(total == 110)
        let top = try await Self.rows(server.url, "/api/queries/top-pages?limit=100")
        #expect(top.rows.allSatisfy { ($0["path"] as? String ?? "X") == ($0["path"] as? String ?? "").lowercased() }, "old events rebuilt lower-cased: \(top.body)")
        let days = try await Self.rows(server.url, "/api/queries/views-by-day")
        #expect(days.status == 200 && days.rows.reduce(0) { $0 + ($1["views"] as? Int ?? 0) } == total, "\(days.body)")
        #expect(server.stop() == 0)

        // The rebuilt table equals a from-scratch projection of the whole log with the new config.
        let data = dir.appendingPathComponent("data")
        let copy = dir.appendingPathComponent("copy")
        try FileManager.default.copyItem(at: data, to: copy)
        let sql = "SELECT position, session_id, path, user_id, duration_ms, viewed_at, day FROM page_views ORDER BY position"
        let live = try CLI.run(["query", "--database", data.appendingPathComponent("analytics.duckdb").path, "--read-only", "--format", "csv", "--sql", sql])
        #expect(live.status == 0, "\(live.stderr)")
        let rebuilt = try CLI.run(["rebuild-projections", "--config", config.path, "--data-dir", copy.path])
        #expect(rebuilt.status == 0, "\(rebuilt.text) \(rebuilt.stderr)")
        let scratch = try CLI.run(["query", "--database", copy.appendingPathComponent("analytics.duckdb").path, "--read-only", "--format", "csv", "--sql", sql])
        #expect(scratch.status == 0 && scratch.stdout.filter { $0 == UInt8(ascii: "\n") }.count == total + 1, "\(scratch.stderr)")
        #expect(live.text == scratch.text, "the live table after the reload differs from a from-scratch projection")
    }

    @Test func checkConfigPrintsTheGraphOrEveryProblemWithItsLineAndTheExampleMatchesTheSchema() throws {
        let dir = try Self.copyOfExample()
        defer { TestSupport.remove(dir) }
        let config = dir.appendingPathComponent("config.yaml")
        let valid = try CLI.run(["check-config", config.path])
        #expect(valid.status == 0, "\(valid.stderr)")
        #expect(valid.text.contains("query users-by-plan") && valid.text.contains("reads users <- projection users <- events PlanChanged, SignedUp"), "\(valid.text)")
        #expect(valid.text.contains("keys carry the versions of datasets: plans"), "\(valid.text)")

        let broken = try String(contentsOf: config, encoding: .utf8)
            .replacingOccurrences(of: "$payload.plan, $payload.country", with: "$payload.plan, $payload.county")
            .replacingOccurrences(of: "FROM users GROUP BY plan", with: "FROM userz GROUP BY plan")
        let bad = dir.appendingPathComponent("bad.yaml")
        try Data(broken.utf8).write(to: bad)
        let refused = try CLI.run(["check-config", bad.path])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("2 problem(s)"), "\(refused.stderr)")
        #expect(refused.stderr.contains("bad.yaml:line 40: projections[1].statements.SignedUp[0]: $payload.county"), "\(refused.stderr)")
        #expect(refused.stderr.contains("userz"), "\(refused.stderr)")

        // The printed JSON Schema accepts the example (and refuses a misspelt section).
        let schema = try CLI.run(["check-config", "--schema"])
        #expect(schema.status == 0)
        let schemaFile = dir.appendingPathComponent("schema.json")
        try schema.stdout.write(to: schemaFile)
        let script = """
            import json, sys, yaml, jsonschema
            schema = json.load(open(sys.argv[1]))
            jsonschema.Draft202012Validator.check_schema(schema)
            config = yaml.safe_load(open(sys.argv[2]))
            jsonschema.validate(config, schema)
            config["projection"] = config.pop("projections")
            try:
                jsonschema.validate(config, schema)
                print("misspelt section accepted")
            except jsonschema.ValidationError:
                print("ok")
            """
        let out = try TestSupport.runPython(script, arguments: [schemaFile.path, config.path])
        #expect(String(decoding: out, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) == "ok")
    }
}
