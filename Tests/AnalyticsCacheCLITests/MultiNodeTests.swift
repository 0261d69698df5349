import Foundation
import Synchronization
import Testing
import TestSupport

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Several `serve` processes sharing one PostgreSQL event log, each with its own DuckDB and L1/L2,
/// behind nginx: what one node appends reaches the others' projections, caches and dashboards, and
/// a causal read token makes every node answer with the writer's events.
@Suite(.timeLimit(.minutes(6)), .serialized) struct MultiNodeTests {
    /// A config serving one query over the demo projection (no TPC-H: quick to start).
    static let config = """
        queries:
          - id: placed
            sql: SELECT count(*) AS orders, coalesce(sum(total_cents), 0) AS cents FROM live_orders
        """

    struct Cluster {
        let dir: URL
        let store: String
        let configPath: String

        init(_ label: String = #function) throws {
            dir = try TestSupport.temporaryDirectory(label)
            let db = try TestPostgres.freshDatabase(label)
            store = "postgres://\(db.server.user)@\(db.server.host):\(db.server.port)/\(db.database)?sslmode=disable"
            configPath = dir.appendingPathComponent("config.yaml").path
            try Data(MultiNodeTests.config.utf8).write(to: URL(fileURLWithPath: configPath))
        }

        func node(_ name: String) throws -> ServeCommandTests.Server {
            try ServeCommandTests.Server.start(
                dataDir: dir.appendingPathComponent(name).path,
                arguments: ["--port", "0", "--config", configPath, "--event-store", store])
        }
    }

    static func port(_ url: String) -> Int { Int(url.split(separator: ":").last ?? "") ?? 0 }

    /// Places order `n` through `base`; returns the position it committed.
    static func place(_ n: Int, via base: String) async throws -> Int64 {
        let body = #"{"aggregateType":"Order","aggregateId":"\#(10_000_000 + n)","expectedVersion":"none","events":[{"type":"OrderPlaced","payload":{"customerKey":1,"nationKey":1,"orderKey":\#(10_000_000 + n),"shipMode":"AIR","totalCents":\#(n)}}]}"#
        var request = URLRequest(url: try #require(URL(string: base + "/api/events")))
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(body.utf8)
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = try #require(response as? HTTPURLResponse)
        #expect(http.statusCode == 201, "\(String(decoding: data, as: UTF8.self))")
        return Int64(http.value(forHTTPHeaderField: "X-Event-Position") ?? "") ?? -1
    }

    /// The `placed` result through `base` (with a causal token when given): (orders, X-Cache).
    static func placed(via base: String, after position: Int64? = nil) async throws -> (orders: Int, cache: String, status: Int) {
        var request = URLRequest(url: try #require(URL(string: base + "/api/queries/placed")))
        if let position { request.setValue(String(position), forHTTPHeaderField: "X-Min-Position") }
        var (data, response) = try await URLSession.shared.data(for: request)
        var http = try #require(response as? HTTPURLResponse)
        // A node not yet caught up with the token answers 503 with Retry-After once its bounded wait
        // ends (5 s in `serve`); a client honours it, as this one does (a loaded test run can starve a
        // node's projector for longer). A 503 is never a stale answer; what comes back after is checked.
        var retries = 0
        while position != nil && http.statusCode == 503 && retries < 30 {
            retries += 1
            let seconds = Int(http.value(forHTTPHeaderField: "Retry-After") ?? "") ?? 1
            try await Task.sleep(for: .seconds(max(1, min(seconds, 5))))
            (data, response) = try await URLSession.shared.data(for: request)
            http = try #require(response as? HTTPURLResponse)
        }
        let rows = (try? JSONSerialization.jsonObject(with: data)) as? [[String: Any]]
        return ((rows?.first?["orders"] as? Int) ?? -1, http.value(forHTTPHeaderField: "X-Cache") ?? "", http.statusCode)
    }

    @Test func anEventAppendedThroughOneNodeReachesTheOthersCacheAndDashboards() async throws {
        let cluster = try Cluster()
        defer { TestSupport.remove(cluster.dir) }
        let a = try cluster.node("a"), b = try cluster.node("b")
        defer { _ = a.stop(); _ = b.stop() }
        let nginx = try TestNginx(upstreams: [Self.port(a.url), Self.port(b.url)])
        defer { nginx.stop() }
        // B computes and caches the result; dashboards watch it — on B directly, and through the
        // balancer (unbuffered), which hands the stream to A or B.
        #expect(try await Self.placed(via: b.url).orders == 0)
        #expect(try await Self.placed(via: b.url).cache == "l1")
        var watchers: [(Process, FileHandle)] = []
        for base in [b.url, nginx.url, nginx.url] {
            let watcher = Process()
            watcher.executableURL = URL(fileURLWithPath: try TestSupport.python())
            watcher.arguments = [TestSupport.packageRoot.appendingPathComponent("scripts/testservers/sse_wait.py").path,
                                 base + "/api/analytics/stream?queries=placed", #""orders":1"#]
            let out = Pipe()
            watcher.standardOutput = out
            try watcher.run()
            #expect(String(decoding: Self.line(out.fileHandleForReading), as: UTF8.self) == "connected")
            watchers.append((watcher, out.fileHandleForReading))
        }

        let position = try await Self.place(1, via: a.url)
        #expect(position == 1)
        // With the token, B answers only once it applied the event — and B's cached 0 is gone.
        let fresh = try await Self.placed(via: b.url, after: position)
        #expect(fresh.orders == 1 && fresh.status == 200)
        // Every dashboard was sent the new result (pushed by its node's own refresh after its
        // invalidation), through the balancer too.
        for (watcher, lines) in watchers {
            #expect(String(decoding: Self.line(lines), as: UTF8.self).contains(#""orders":1"#))
            watcher.waitUntilExit()
            #expect(watcher.terminationStatus == 0)
        }
        #expect(a.stop() == 0 && b.stop() == 0)
    }

    @Test func readsThroughTheBalancerWithATokenAlwaysReflectTheWrite() async throws {
        let cluster = try Cluster()
        defer { TestSupport.remove(cluster.dir) }
        let a = try cluster.node("a"), b = try cluster.node("b")
        defer { _ = a.stop(); _ = b.stop() }
        let nginx = try TestNginx(upstreams: [Self.port(a.url), Self.port(b.url)])
        defer { nginx.stop() }
        var caches: Set<String> = []
        for n in 1...30 {
            let position = try await Self.place(n, via: nginx.url)
            // Round robin: this read lands on the other node than the write as often as not.
            let read = try await Self.placed(via: nginx.url, after: position)
            #expect(read.status == 200 && read.orders == n, "read \(n) after position \(position): \(read)")
            caches.insert(read.cache)
        }
        #expect(caches.contains("computed"), "reads were recomputed after invalidations: \(caches)")
        // An unreachable position: 400, not a wait.
        #expect(try await Self.placed(via: nginx.url, after: 1_000_000).status == 400)
    }

    /// What the concurrent clients below have had acknowledged: how many orders, and the highest
    /// position among them.
    final class Acknowledged: Sendable {
        let state = Mutex<(orders: Int, position: Int64)>((0, 0))
    }

    /// The stale-read checker across two nodes: concurrent clients post orders and read through the
    /// balancer, each read carrying the highest position acknowledged before it started; every such
    /// read must count at least the orders acknowledged before it started.
    @Test func concurrentReadersWithTokensNeverSeeStaleResultsAcrossNodes() async throws {
        let cluster = try Cluster()
        defer { TestSupport.remove(cluster.dir) }
        let a = try cluster.node("a"), b = try cluster.node("b")
        defer { _ = a.stop(); _ = b.stop() }
        let nginx = try TestNginx(upstreams: [Self.port(a.url), Self.port(b.url)])
        defer { nginx.stop() }
        let acknowledged = Acknowledged()
        let violations = try await withThrowingTaskGroup(of: [String].self) { group in
            for client in 0..<4 {
                group.addTask {
                    var found: [String] = []
                    for i in 0..<15 {
                        let n = client * 100 + i + 1
                        let position = try await Self.place(n, via: nginx.url)
                        acknowledged.state.withLock { $0 = ($0.orders + 1, max($0.position, position)) }
                        for _ in 0..<2 {
                            let (floor, token) = acknowledged.state.withLock { ($0.orders, $0.position) }
                            let read = try await Self.placed(via: nginx.url, after: token)
                            if read.status != 200 || read.orders < floor {
                                found.append("read after position \(token): \(read.orders) orders (\(read.status)), \(floor) acknowledged")
                            }
                        }
                    }
                    return found
                }
            }
            var all: [String] = []
            for try await found in group { all += found }
            return all
        }
        #expect(violations.isEmpty, "\(violations)")
        #expect(try await Self.placed(via: a.url, after: acknowledged.state.withLock { $0.position }).orders == 60)
    }

    @Test func aNodeKilledMidProjectionResumesFromItsCheckpointWithNothingAppliedTwice() async throws {
        let cluster = try Cluster()
        defer { TestSupport.remove(cluster.dir) }
        let a = try cluster.node("a")
        defer { _ = a.stop() }
        var b = try cluster.node("b")
        // B is killed (SIGKILL) while A appends: somewhere in its projection of them.
        var last: Int64 = 0
        for n in 1...40 {
            last = try await Self.place(n, via: a.url)
            if n == 20 { kill(b.process.processIdentifier, SIGKILL) }
        }
        b.process.waitUntilExit()
        b = try cluster.node("b")
        defer { _ = b.stop() }
        let read = try await Self.placed(via: b.url, after: last)
        #expect(read.status == 200 && read.orders == 40, "every order once: \(read)")
        // And B's listener connection being terminated does not leave B behind.
        let db = String(cluster.store.split(separator: "/").last?.split(separator: "?").first ?? "")
        let server = try TestPostgres.server()
        try TestPostgres.terminateListeners(server, db)
        for n in 41...45 { last = try await Self.place(n, via: a.url) }
        let after = try await Self.placed(via: b.url, after: last)
        #expect(after.status == 200 && after.orders == 45)
        #expect(a.stop() == 0 && b.stop() == 0)
    }

    /// One line of `handle` (blocking; the suite's time limit bounds it).
    static func line(_ handle: FileHandle) -> Data {
        var line = Data()
        while true {
            let byte = handle.readData(ofLength: 1)
            if byte.isEmpty || byte == Data("\n".utf8) { return line }
            line.append(byte)
        }
    }
}
