import AnalyticsCache
import ArgumentParser
import DiskCache
import DuckDBClient
import EventProjection
import EventStore
import Foundation
import PostgresEventStore
import ResultFormat

/// `analytics-cache-bench nodes`: the PostgreSQL log against the SQLite log in the same run
/// (appends/s with 1 and with 8 writers), and an event appended through node A until node B —
/// its own client, listener, projector, DuckDB and cache, here in the same process — has applied
/// it and invalidated what it made stale.
struct NodesBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nodes",
        abstract: "PostgreSQL vs SQLite appends/s (1 and 8 writers); event on node A → invalidation done on node B; one node's cost per event vs the entries it makes stale."
    )

    @Option(help: "A PostgreSQL server to create a scratch database in (postgres://user@host:port/db; scripts/test-postgres.sh starts one).")
    var postgres: String

    @Option(help: "Appends measured per configuration.")
    var appends = 2000

    @Option(help: "Events propagated from node A to node B.")
    var events = 500

    static let sales = Projection(
        name: "sales", eventTypes: ["Sale"], setupSQL: "CREATE TABLE IF NOT EXISTS sales (amount BIGINT)",
        apply: .appender(table: "sales") { _ in [.int(1)] })

    func run() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("nodes-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let scratch = "bench_\(UInt32.random(in: 0...UInt32.max))"
        try Self.psql(postgres, "CREATE DATABASE \(scratch)")
        defer { try? Self.psql(postgres, "DROP DATABASE \(scratch) WITH (FORCE)") }
        var components = URLComponents(string: postgres)
        components?.path = "/" + scratch
        let url = components?.string ?? postgres

        // 1. Appends/s, 1 and 8 writers, PostgreSQL and SQLite.
        let sqlite = try SQLiteEventStore(path: root.appendingPathComponent("events.sqlite").path)
        print("log | writers | appends/s | p50 | p99")
        for writers in [1, 8] {
            try await report("SQLite (synchronous=FULL)", writers) { i in
                _ = try await sqlite.append([NewEvent(type: "Sale", payload: #"{"amount":1}"#)], to: AggregateID(type: "sale", id: "s\(i % 500)"), expectedVersion: .any)
            }
        }
        try await PostgresEventStore.withStore(try .init(url: url)) { pg in
            for writers in [1, 8] {
                try await report("PostgreSQL (advisory lock)", writers) { i in
                    _ = try await pg.append([NewEvent(type: "Sale", payload: #"{"amount":1}"#)], to: AggregateID(type: "sale", id: "s\(i % 500)"), expectedVersion: .any)
                }
            }
        }

        // 2. Event on A → invalidation done on B, on a log of their own.
        let scratch2 = scratch + "_nodes"
        try Self.psql(postgres, "CREATE DATABASE \(scratch2)")
        defer { try? Self.psql(postgres, "DROP DATABASE \(scratch2) WITH (FORCE)") }
        components?.path = "/" + scratch2
        let url2 = components?.string ?? postgres
        try await PostgresEventStore.withStore(try .init(url: url2)) { logA in
            try await PostgresEventStore.withStore(try .init(url: url2)) { logB in
                let a = try await Self.node(root.appendingPathComponent("a"), log: logA)
                let b = try await Self.node(root.appendingPathComponent("b"), log: logB)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for node in [a, b] {
                        group.addTask { try await node.projector.run() }
                        group.addTask { try await node.cache.run() }
                    }
                    await logB.waitUntilListening()
                    let clock = ContinuousClock()
                    var propagation: [Duration] = [], local: [Duration] = []
                    for i in 0..<events {
                        _ = try await b.cache.result(for: "total")  // cached on B
                        let start = clock.now
                        let position = try await a.cache.append([NewEvent(type: "Sale", payload: "{}")], to: AggregateID(type: "p", id: "\(i)"),
                                                                expectedVersion: .any).last?.position ?? 0
                        local.append(clock.now - start)
                        try await b.cache.waitUntilFresh(through: position)
                        propagation.append(clock.now - start)
                        let seen = try ArchivedResult(bytes: try await b.cache.result(for: "total").arrow).column(named: "n")?.value(at: 0)
                        precondition(seen == .int(Int64(i + 1)), "B served a stale total: \(String(describing: seen)) after \(i + 1) events")
                    }
                    print("\nevent appended through A (\(events)): fresh on A p50 \(ms(median(local))) ms, p99 \(ms(percentile(local, 0.99))) ms; "
                          + "invalidation done on B p50 \(ms(median(propagation))) ms, p99 \(ms(percentile(propagation, 0.99))) ms, max \(ms(propagation.max() ?? .zero)) ms")
                    group.cancelAll()
                }
                for node in [a, b] {
                    await node.pool.shutdown()
                    await node.writer.shutdown()
                }
            }
        }

        // 3. One node's cost of an event as a function of the entries it makes stale (L1 and L2):
        // the per-node term of the fan-out model in docs/ARCHITECTURE.md.
        let scratch3 = scratch + "_fanout"
        try Self.psql(postgres, "CREATE DATABASE \(scratch3)")
        defer { try? Self.psql(postgres, "DROP DATABASE \(scratch3) WITH (FORCE)") }
        components?.path = "/" + scratch3
        let url3 = components?.string ?? postgres
        try await PostgresEventStore.withStore(try .init(url: url3)) { log in
            let node = try await Self.node(root.appendingPathComponent("fanout"), log: log, disk: true)
            try await node.cache.register(QueryDefinition(id: "above", sql: "SELECT count(*) AS n FROM sales WHERE amount < ?",
                                                          parameters: [ParameterSpec("k", .integer)]))
            print("\nstale entries per event | apply + invalidate, p50 | p99 (20 events each)")
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await node.projector.run() }
                group.addTask { try await node.cache.run() }
                let clock = ContinuousClock()
                for entries in [1, 100, 1_000, 10_000] {
                    var times: [Duration] = []
                    for round in 0..<20 {
                        for k in 0..<entries { _ = try await node.cache.result(for: "above", textParameters: ["k": String(k)]) }
                        let start = clock.now
                        let position = try await log.append([NewEvent(type: "Sale", payload: "{}")], to: AggregateID(type: "f", id: "\(entries)-\(round)"),
                                                            expectedVersion: .any).last?.position ?? 0
                        try await node.cache.waitUntilFresh(through: position)
                        times.append(clock.now - start)
                    }
                    print("\(entries) | \(ms(median(times))) ms | \(ms(percentile(times, 0.99))) ms")
                }
                group.cancelAll()
            }
            await node.pool.shutdown()
            await node.writer.shutdown()
        }
    }

    struct Node {
        let writer: DuckDBWriter
        let pool: DuckDBPool
        let projector: Projector
        let cache: AnalyticsCache
    }

    static func node(_ dir: URL, log: PostgresEventStore, disk: Bool = false) async throws -> Node {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let database = try Database(path: dir.appendingPathComponent("node.duckdb").path)
        let writer = try DuckDBWriter(database: database)
        let projector = Projector(name: "sales", log: log, writer: writer, projections: [sales])
        try await projector.setUp()
        let pool = try DuckDBPool(database: database, configuration: .init(readOnly: true))
        let l2 = disk ? try DiskCache(configuration: .init(path: dir.appendingPathComponent("l2").path, mapSize: 1 << 30)) : nil
        let cache = AnalyticsCache(configuration: .init(pool: pool, log: log, projector: projector, projections: [sales], disk: l2))
        try await cache.register(QueryDefinition(id: "total", sql: "SELECT count(*) AS n FROM sales"))
        return Node(writer: writer, pool: pool, projector: projector, cache: cache)
    }

    func report(_ name: String, _ writers: Int, _ append: @escaping @Sendable (Int) async throws -> Void) async throws {
        let clock = ContinuousClock()
        let perWriter = appends / writers
        let start = clock.now
        let latencies = try await withThrowingTaskGroup(of: [Duration].self) { group in
            for w in 0..<writers {
                group.addTask {
                    var times: [Duration] = []
                    for i in 0..<perWriter {
                        let t = clock.now
                        try await append(w * perWriter + i)
                        times.append(clock.now - t)
                    }
                    return times
                }
            }
            var all: [Duration] = []
            for try await times in group { all += times }
            return all
        }
        let rate = Double(latencies.count) / seconds(clock.now - start)
        print("\(name) | \(writers) | \(Int(rate)) | \(ms(median(latencies))) ms | \(ms(percentile(latencies, 0.99))) ms")
    }

    static func psql(_ url: String, _ sql: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
        process.arguments = ["-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ValidationError("psql failed: \(sql)") }
    }
}
