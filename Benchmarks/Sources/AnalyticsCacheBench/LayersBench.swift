import AnalyticsCache
import ArgumentParser
import DiskCache
import DuckDBClient
import EventProjection
import EventStore
import Foundation

/// `analytics-cache-bench layers`: the analytics cache on TPC-H — latency per layer against the
/// DuckDB time of the same query, a cold stampede, append → invalidation → bus delivery, and a
/// refresh storm.
struct LayersBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "layers",
        abstract: "AnalyticsCache: L1 / L2 / DuckDB latency on TPC-H, stampede, append → bus latency, refresh storm."
    )

    @Option(help: "TPC-H scale factor.")
    var scale = 1.0

    static let queries: [(String, String)] = [
        ("pricing-summary", """
            SELECT l_returnflag, l_linestatus, sum(l_quantity) AS qty, sum(l_extendedprice * (1 - l_discount)) AS revenue,
                   avg(l_discount) AS discount, count(*) AS orders
            FROM lineitem WHERE l_shipdate <= DATE '1998-09-02' GROUP BY ALL ORDER BY ALL
            """),
        ("revenue-by-nation", """
            SELECT n_name, sum(l_extendedprice * (1 - l_discount)) AS revenue
            FROM customer JOIN orders ON c_custkey = o_custkey JOIN lineitem ON l_orderkey = o_orderkey
            JOIN nation ON c_nationkey = n_nationkey
            WHERE o_orderdate >= DATE '1994-01-01' AND o_orderdate < DATE '1995-01-01'
            GROUP BY n_name ORDER BY revenue DESC
            """),
        ("top-customers", """
            SELECT c_name, sum(o_totalprice) AS spent, count(*) AS orders
            FROM customer JOIN orders ON c_custkey = o_custkey GROUP BY c_name ORDER BY spent DESC LIMIT 100
            """),
    ]

    static let live = Projection(
        name: "live", eventTypes: ["Sale"], setupSQL: "CREATE TABLE IF NOT EXISTS live_sales (amount BIGINT)",
        apply: .appender(table: "live_sales") { _ in [.int(1)] })

    func run() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("layers-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let database = try Database(path: root.appendingPathComponent("tpch.duckdb").path)
        let writer = try DuckDBWriter(database: database)
        let clock = ContinuousClock()
        var start = clock.now
        _ = try await writer.write { try $0.execute("CALL dbgen(sf = \(scale))") }
        print("TPC-H sf \(scale) generated in \(ms(clock.now - start)) ms")
        let log = try SQLiteEventStore(path: root.appendingPathComponent("events.sqlite").path)
        let projector = Projector(name: "live", log: log, writer: writer, projections: [Self.live])
        try await projector.setUp()
        let pool = try DuckDBPool(database: database, configuration: .init(readOnly: true))
        let disk = try DiskCache(configuration: .init(path: root.appendingPathComponent("l2").path, mapSize: 1 << 30))
        let cache = AnalyticsCache(configuration: .init(pool: pool, log: log, projector: projector, projections: [Self.live], disk: disk))
        // Same L2, no L1: every lookup is an L2 read.
        let diskOnly = AnalyticsCache(configuration: .init(pool: pool, log: log, projector: projector, projections: [Self.live], disk: disk,
                                                           memoryBytes: 0))
        for (id, sql) in Self.queries {
            try await cache.register(QueryDefinition(id: id, sql: sql))
            try await diskOnly.register(QueryDefinition(id: id, sql: sql))
        }
        try await cache.register(QueryDefinition(id: "live-total", sql: "SELECT count(*) AS n FROM live_sales"))

        // 1. Latency per layer, against the DuckDB time of the same query.
        print("query | DuckDB (bypass, median of 5) | L2 hit (median of 500) | L1 hit (median of 20 000) | DuckDB ÷ L2 | DuckDB ÷ L1 | result bytes")
        for (id, _) in Self.queries {
            var computed: [Duration] = []
            var bytes = 0
            for _ in 0..<5 {
                let t = clock.now
                bytes = try await cache.result(for: id, options: .init(bypassCache: true)).arrow.count
                computed.append(clock.now - t)
            }
            _ = try await cache.result(for: id)  // stored in L1 and L2
            var l2: [Duration] = []
            for _ in 0..<500 {
                let t = clock.now
                let served = try await diskOnly.result(for: id).servedBy
                l2.append(clock.now - t)
                precondition(served == .l2 || served == .joined, "expected an L2 hit, got \(served)")
            }
            var l1: [Duration] = []
            for _ in 0..<20_000 {
                let t = clock.now
                _ = try await cache.result(for: id)
                l1.append(clock.now - t)
            }
            let duck = seconds(median(computed)), disk2 = seconds(median(l2)), mem = seconds(median(l1))
            print("\(id) | \(fmt(duck * 1000, 2)) ms | \(fmt(disk2 * 1e6, 1)) µs | \(fmt(mem * 1e6, 2)) µs | \(Int(duck / disk2)) × | \(Int(duck / mem)) × | \(bytes)")
        }

        // 2. 1 000 concurrent requests for one cold key.
        try await cache.invalidate(.everything)
        let before = pool.statistics.completed
        start = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<1_000 { group.addTask { _ = try await cache.result(for: "revenue-by-nation") } }
            try await group.waitForAll()
        }
        print("1 000 concurrent cold requests: \(pool.statistics.completed - before) DuckDB execution(s), wall \(ms(clock.now - start)) ms")

        // 3. Append → invalidation done → bus delivery; and 4. a refresh storm.
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await projector.run() }
            group.addTask { try await cache.run() }
            _ = try await cache.result(for: "live-total")
            let bus = cache.bus.subscribe(filter: BusFilter(queries: ["live-total"]), capacity: 10_000)
            var appendTimes: [Duration] = [], deliveries: [Duration] = []
            // Where the time goes: cache.append's steps timed one by one.
            var logged: [Duration] = [], applied: [Duration] = [], fresh: [Duration] = []
            for i in 0..<1_000 {
                _ = try await cache.result(for: "live-total")  // hot, and in L1
                let t = clock.now
                let position = try await log.append([NewEvent(type: "Sale", payload: "{}")], to: AggregateID(type: "sale", id: "\(i)"), expectedVersion: .any)[0].position
                let t1 = clock.now
                try await projector.waitUntilApplied(position, timeout: .seconds(10))
                let t2 = clock.now
                try await cache.waitUntilFresh(through: position)
                let t3 = clock.now
                logged.append(t1 - t); applied.append(t2 - t1); fresh.append(t3 - t2)
                appendTimes.append(clock.now - t)
                while let message = await bus.next() {
                    if case .update(let update) = message, update.reason == .events, update.position == position {
                        deliveries.append(clock.now - t)
                        break
                    }
                }
            }
            print("append → invalidated (append returns): p50 \(ms(percentile(appendTimes, 0.5))) ms, p99 \(ms(percentile(appendTimes, 0.99))) ms; "
                + "append → bus delivery: p50 \(ms(percentile(deliveries, 0.5))) ms, p99 \(ms(percentile(deliveries, 0.99))) ms (1 000 appends)")
            for (name, times) in [("log commit", logged), ("projector applied", applied), ("invalidated", fresh)] {
                print("  \(name): p50 \(ms(percentile(times, 0.5))) ms, p99 \(ms(percentile(times, 0.99))) ms")
            }

            let stats = cache.statistics()
            start = clock.now
            var last: Int64 = 0
            for _ in 0..<100 {
                let events = (0..<10).map { _ in NewEvent(type: "Sale", payload: "{}") }
                last = try await log.append(events, to: AggregateID(type: "sale", id: "storm"), expectedVersion: .any).last?.position ?? last
            }
            let burst = clock.now - start
            try await cache.waitUntilFresh(through: last)
            while let message = await bus.next() {
                if case .update(let update) = message, update.reason == .refreshed, (update.position ?? 0) >= last { break }
            }
            let after = cache.statistics()
            print("refresh storm: 1 000 events in \(ms(burst)) ms → \(after.refreshes - stats.refreshes) refreshes, "
                + "\(after.coalesced - stats.coalesced) coalesced; fresh result pushed \(ms(clock.now - start)) ms after the first event")
            group.cancelAll()
        }
        await pool.shutdown()
        await writer.shutdown()
    }
}
