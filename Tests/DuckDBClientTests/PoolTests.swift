import Dispatch
import DuckDBClient
import Foundation
import MetricsTestKit
import ResultFormat
import Synchronization
import TestSupport
import Testing

/// A statement that would run for far longer than any test (a 10^10-row cross product).
let longQuery = "SELECT sum(a.range * b.range) AS s FROM range(100000) a, range(100000) b"


/// Occupies pool connections until released: each gated job blocks its pool thread.
final class Gate: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    func wait() { semaphore.wait() }
    func open(_ times: Int = 1) { for _ in 0..<times { semaphore.signal() } }
}

/// A value shared with pool threads (a `Mutex` cannot be captured by escaping closures itself).
final class Shared<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
    var value: Value { mutex.withLock { $0 } }
}

@Suite(.timeLimit(.minutes(2))) struct PoolTests {
    func makePool(connections: Int, queueLimit: Int = 1024) throws -> DuckDBPool {
        try DuckDBPool(database: try Database(), configuration: .init(connections: connections, queueLimit: queueLimit))
    }

    @Test func fourTimesMoreConcurrentQueriesThanConnectionsAllComplete() async throws {
        let pool = try makePool(connections: 2)
        let gate = Gate()
        try await withThrowingTaskGroup(of: (Int, QueryResult).self) { group in
            for k in 0..<8 {
                group.addTask {
                    let n = Int64(100_000 * (k + 1))
                    let r = try await pool.withConnection { connection in
                        gate.wait()
                        return try connection.query("SELECT sum(i) AS s, count(*) AS c FROM range(?::BIGINT) r(i)", [.int(n)])
                    }
                    return (k, r)
                }
            }
            await eventually("2 running and 6 queued") { pool.statistics.running == 2 && pool.statistics.queued == 6 }
            gate.open(8)
            var seen = Set<Int>()
            for try await (k, r) in group {
                let n = Int128(100_000 * (k + 1))
                #expect(r.row(0) == [.hugeint(n * (n - 1) / 2), .int(Int64(n))])
                seen.insert(k)
            }
            #expect(seen == Set(0..<8))
        }
        let stats = pool.statistics
        #expect(stats.completed == 8)
        #expect(stats.idle == 2 && stats.queued == 0 && stats.running == 0)
        await pool.shutdown()
    }

    @Test func waitingRequestsStartInArrivalOrder() async throws {
        let pool = try makePool(connections: 1)
        let gate = Gate()
        let order = Shared<[Int]>([])
        let holder = Task { try await pool.withConnection { _ in gate.wait() } }
        await eventually("the connection to be held") { pool.statistics.running == 1 }
        var tasks: [Task<Void, any Error>] = []
        for k in 0..<5 {
            tasks.append(Task { try await pool.withConnection { _ in order.withLock { $0.append(k) } } })
            await eventually("request \(k) to queue") { pool.statistics.queued == k + 1 }
        }
        gate.open()
        try await holder.value
        for task in tasks { try await task.value }
        #expect(order.value == [0, 1, 2, 3, 4])
        await pool.shutdown()
    }

    @Test func fullQueueRefusesWithOverloadError() async throws {
        let pool = try makePool(connections: 1, queueLimit: 2)
        let gate = Gate()
        let holder = Task { try await pool.withConnection { _ in gate.wait() } }
        await eventually("the connection to be held") { pool.statistics.running == 1 }
        let waiting = (0..<2).map { _ in Task { try await pool.query("SELECT 1 AS one") } }
        await eventually("two queued") { pool.statistics.queued == 2 }
        await #expect(throws: DuckDBPoolError.overloaded(queueLimit: 2)) { try await pool.query("SELECT 1") }
        gate.open()
        try await holder.value
        for task in waiting { #expect(try await task.value.row(0) == [.int(1)]) }
        #expect(pool.statistics.overloaded == 1)
        await pool.shutdown()
    }

    @Test func cancellingARunningQueryInterruptsItPromptly() async throws {
        let pool = try makePool(connections: 1)
        let (started, startedContinuation) = AsyncStream<Void>.makeStream()
        // Measured on the pool thread, so a busy test process cannot delay the reading.
        let stoppedAt = Shared<ContinuousClock.Instant?>(nil)
        let task = Task {
            try await pool.withConnection { connection in
                startedContinuation.yield()
                defer { stoppedAt.withLock { $0 = .now } }
                return try connection.query(longQuery)
            }
        }
        var iterator = started.makeAsyncIterator()
        _ = await iterator.next()
        let cancelledAt = ContinuousClock.now
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        let latency = try #require(stoppedAt.value) - cancelledAt
        // The query would run for minutes: stopping within seconds shows the interrupt reached it
        // (the bound leaves room for a loaded test run's scheduling).
        #expect(latency < .seconds(10), "the statement stopped \(latency) after cancellation")
        // The same (only) connection is healthy afterwards.
        #expect(try await pool.query("SELECT 42 AS x").row(0) == [.int(42)])
        #expect(pool.statistics.cancelled == 1)
        await pool.shutdown()
    }

    @Test func cancellingAQueuedRequestRemovesIt() async throws {
        let pool = try makePool(connections: 1)
        let gate = Gate()
        let holder = Task { try await pool.withConnection { _ in gate.wait() } }
        await eventually("the connection to be held") { pool.statistics.running == 1 }
        let ran = Shared(false)
        let queued = Task { try await pool.withConnection { _ in ran.withLock { $0 = true } } }
        await eventually("one queued") { pool.statistics.queued == 1 }
        queued.cancel()
        await #expect(throws: CancellationError.self) { try await queued.value }
        #expect(pool.statistics.queued == 0)
        gate.open()
        try await holder.value
        #expect(try await pool.query("SELECT 1 AS one").rowCount == 1)
        #expect(ran.value == false)
        await pool.shutdown()
    }

    @Test func timeoutInterruptsARunningQuery() async throws {
        let pool = try makePool(connections: 1)
        let ran = Shared<Duration?>(nil)
        // A job whose deadline passes before a worker picks it up is failed without running; under a
        // loaded test run that can happen, so try until one attempt has actually started.
        var attempts = 0
        for _ in 0..<20 where ran.value == nil {
            attempts += 1
            await #expect(throws: DuckDBPoolError.timedOut(.milliseconds(200))) {
                try await pool.withConnection(timeout: .milliseconds(200)) { connection in
                    let start = ContinuousClock.now
                    defer { ran.withLock { $0 = start.duration(to: .now) } }
                    return try connection.query(longQuery)
                }
            }
        }
        let elapsed = try #require(ran.value)
        // The query would run for minutes; the bound leaves room for a loaded run's scheduling.
        #expect(elapsed < .seconds(10), "the statement ran \(elapsed) with a 200 ms timeout")
        #expect(try await pool.query("SELECT 7 AS x").row(0) == [.int(7)])
        #expect(pool.statistics.timedOut == attempts)
        await pool.shutdown()
    }

    @Test func timeoutExpiresARequestStillWaitingInTheQueue() async throws {
        let pool = try DuckDBPool(database: try Database(), configuration: .init(connections: 1, defaultTimeout: .milliseconds(100)))
        let gate = Gate()
        let holder = Task { try await pool.withConnection(timeout: .seconds(60)) { _ in gate.wait() } }
        await eventually("the connection to be held") { pool.statistics.running == 1 }
        let ran = Shared(false)
        await #expect(throws: DuckDBPoolError.timedOut(.milliseconds(100))) {
            try await pool.withConnection { _ in ran.withLock { $0 = true } }
        }
        gate.open()
        try await holder.value
        #expect(ran.value == false)
        await pool.shutdown()
    }

    @Test func failingQueriesReturnDuckDBsErrorAndLeaveThePoolHealthy() async throws {
        let pool = try makePool(connections: 2)
        let error = await #expect(throws: DuckDBError.self) { try await pool.query("SELECT * FROM nowhere") }
        #expect(error?.message.contains("nowhere") == true)
        await #expect(throws: DuckDBError.self) { try await pool.query("SELECT 1/0::INTEGER + 'x'::INTEGER") }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for k in 0..<10 {
                group.addTask {
                    let row = try await pool.query("SELECT ?::INTEGER AS k", [.int(Int64(k))]).row(0)
                    #expect(row == [.int(Int64(k))])
                }
            }
            try await group.waitForAll()
        }
        await pool.shutdown()
    }

    @Test func shutdownFailsWaitingRequestsAndRefusesNewOnes() async throws {
        let pool = try makePool(connections: 1)
        let gate = Gate()
        let holder = Task { try await pool.withConnection { _ in gate.wait(); return 5 } }
        await eventually("the connection to be held") { pool.statistics.running == 1 }
        let queued = Task { try await pool.query("SELECT 1") }
        await eventually("one queued") { pool.statistics.queued == 1 }
        let shutdown = Task { await pool.shutdown() }
        await #expect(throws: DuckDBPoolError.shutDown) { try await queued.value }
        await #expect(throws: DuckDBPoolError.shutDown) { try await pool.query("SELECT 1") }
        // The running request is interrupted; this one ignores interrupts (it waits on a gate), so
        // its caller is answered with the shutdown after the grace, and the work ends later.
        await #expect(throws: DuckDBPoolError.shutDown) { try await holder.value }
        gate.open()
        await shutdown.value
    }
}

@Suite struct WriterTests {
    @Test func writerAppendsInATransactionAndReadersSeeTheCommit() async throws {
        let database = try Database()
        let writer = try DuckDBWriter(database: database)
        let pool = try DuckDBPool(database: database, configuration: .init(connections: 2))
        try await writer.write { connection in
            _ = try connection.execute("CREATE TABLE events (id BIGINT, kind VARCHAR)")
        }
        let appended = try await writer.write { connection in
            try connection.transaction {
                let appender = try connection.appender(table: "events")
                for i in 0..<10_000 { try appender.appendRow([.int(Int64(i)), .string(i % 2 == 0 ? "even" : "odd")]) }
                try appender.close()
                return 10_000
            }
        }
        #expect(appended == 10_000)
        let r = try await pool.query("SELECT kind, count(*) AS n FROM events GROUP BY kind ORDER BY kind")
        #expect(r.row(0) == [.string("even"), .int(5000)])
        #expect(r.row(1) == [.string("odd"), .int(5000)])
        await pool.shutdown()
        await writer.shutdown()
    }

    @Test func writerRunsWritesOneAtATimeAndDrainsThemAtShutdown() async throws {
        let database = try Database()
        let writer = try DuckDBWriter(database: database)
        try await writer.write { _ = try $0.execute("CREATE TABLE log (n INTEGER)") }
        let concurrent = Shared((now: 0, max: 0))
        var tasks: [Task<Void, any Error>] = []
        for n in 0..<20 {
            tasks.append(Task {
                try await writer.write { connection in
                    concurrent.withLock { $0.now += 1; $0.max = max($0.max, $0.now) }
                    _ = try connection.execute("INSERT INTO log VALUES (\(n))")
                    concurrent.withLock { $0.now -= 1 }
                }
            })
        }
        for task in tasks { try await task.value }
        #expect(concurrent.value.max == 1)
        let count = try await writer.write { try $0.query("SELECT count(*) AS c FROM log").row(0) }
        #expect(count == [.int(20)])
        await writer.shutdown()
        await #expect(throws: DuckDBPoolError.shutDown) { try await writer.write { _ in 1 } }
    }
}

@Suite(.timeLimit(.minutes(2))) struct PoolMetricsTests {
    @Test func poolReportsOutcomesAndTimingsToItsMetricsFactory() async throws {
        let metrics = TestMetrics()
        let pool = try DuckDBPool(
            database: try Database(),
            configuration: .init(connections: 1, queueLimit: 0, name: "metered", metricsFactory: metrics))
        for k in 0..<3 { _ = try await pool.query("SELECT ?::INTEGER AS k", [.int(Int64(k))]) }
        // A job whose deadline passes before a worker picks it up fails without running (and records
        // no run time); under a loaded test run that can happen.
        let ranLong = Shared(false)
        await #expect(throws: DuckDBPoolError.timedOut(.milliseconds(50))) {
            try await pool.withConnection(timeout: .milliseconds(50)) { connection in
                ranLong.withLock { $0 = true }
                return try connection.query(longQuery)
            }
        }
        // queueLimit 0: a second request while the only connection is busy is refused.
        let gate = Gate()
        let holder = Task { try await pool.withConnection { _ in gate.wait() } }
        await eventually("the connection to be held") { pool.statistics.running == 1 }
        await #expect(throws: DuckDBPoolError.overloaded(queueLimit: 0)) { try await pool.query("SELECT 1") }
        gate.open()
        try await holder.value

        func requests(_ outcome: String) throws -> Int64 {
            try metrics.expectCounter("duckdb_pool_requests_total", [("pool", "metered"), ("outcome", outcome)]).totalValue
        }
        #expect(try requests("completed") == 4)  // 3 queries and the gate holder; each request counts once
        #expect(try requests("timed_out") == 1)
        #expect(try requests("overloaded") == 1)
        let started = ranLong.value ? 5 : 4
        #expect(try metrics.expectTimer("duckdb_pool_run_seconds", [("pool", "metered")]).values.count == started)
        #expect(try metrics.expectTimer("duckdb_pool_wait_seconds", [("pool", "metered")]).values.count == started)
        await pool.shutdown()
    }
}
