import DuckDBClient
import Foundation
import ResultFormat
import TestSupport
import Synchronization
import Testing

/// Every job starts on a connection in auto-commit mode, whatever the previous job left behind; an
/// interrupt reaches only the job it was meant for; a shut-down pool stops what runs.
@Suite(.timeLimit(.minutes(2))) struct PoolSessionTests {
    /// True when the connection is in auto-commit mode: BEGIN fails inside an open or aborted
    /// transaction.
    static func inAutoCommit(_ pool: DuckDBPool) async throws -> Bool {
        try await pool.withConnection { connection in
            do {
                _ = try connection.execute("BEGIN TRANSACTION")
            } catch {
                return false
            }
            _ = try connection.execute("ROLLBACK")
            return true
        }
    }

    @Test func aTransactionAJobLeftOpenIsRolledBackBeforeTheNextJob() async throws {
        let pool = try DuckDBPool(database: try Database(), configuration: .init(connections: 1))
        _ = try await pool.execute("CREATE TABLE t (i INTEGER)")
        // The job begins, writes, and returns without committing.
        try await pool.withConnection { connection in
            _ = try connection.execute("BEGIN TRANSACTION")
            _ = try connection.execute("INSERT INTO t VALUES (1)")
        }
        // The next job on the same connection sees the committed state, not the open transaction.
        #expect(try await pool.query("SELECT count(*) AS n FROM t").row(0) == [.int(0)])
        #expect(try await Self.inAutoCommit(pool))
        #expect(pool.statistics.transactionsRolledBack == 1)
        await pool.shutdown()
    }

    @Test func anAbortedTransactionIsRolledBackBeforeTheNextJob() async throws {
        let pool = try DuckDBPool(database: try Database(), configuration: .init(connections: 1))
        try await pool.withConnection { connection in
            _ = try connection.execute("BEGIN TRANSACTION")
            _ = try? connection.execute("SELECT * FROM no_such_table")  // aborts the transaction
        }
        #expect(try await pool.query("SELECT 7 AS x").row(0) == [.int(7)])
        #expect(try await Self.inAutoCommit(pool))
        await pool.shutdown()
    }

    @Test func aScriptCannotSmuggleAnOpenTransactionPastTheReset() async throws {
        let pool = try DuckDBPool(database: try Database(), configuration: .init(connections: 1))
        // `query` prepares one statement; a script there is refused before anything runs.
        await #expect(throws: DuckDBError.self) { try await pool.query("BEGIN TRANSACTION; SELECT 1") }
        #expect(try await Self.inAutoCommit(pool))
        await pool.shutdown()
    }

    @Test func manyTimedOutTransactionalJobsNeverLeaveTheirConnectionInATransaction() async throws {
        // The watchdog re-interrupts a timed-out job every 20 ms, also while `transaction` runs its
        // ROLLBACK; whatever state that leaves, the next job must find auto-commit mode.
        let pool = try DuckDBPool(database: try Database(), configuration: .init(connections: 1))
        _ = try await pool.execute("CREATE TABLE t (i BIGINT)")
        var timedOut = 0
        for i in 0..<250 {
            do {
                try await pool.withConnection(timeout: .microseconds(Int64(200 + (i % 13) * 150))) { connection in
                    try connection.transaction {
                        _ = try connection.execute("INSERT INTO t SELECT range FROM range(20000)")
                        _ = try connection.query("SELECT sum(a.range * b.range) FROM range(3000) a, range(3000) b")
                    }
                }
            } catch let error as DuckDBPoolError {
                #expect(error == .timedOut(.microseconds(Int64(200 + (i % 13) * 150))))
                timedOut += 1
            }
            let fresh = try await Self.inAutoCommit(pool)
            #expect(fresh, "job \(i) left its connection inside a transaction")
            if !fresh { break }
        }
        #expect(timedOut > 0)
        await pool.shutdown()
    }

    @Test func anInterruptHandleKeptFromAnEarlierJobCannotStopALaterOne() async throws {
        let pool = try DuckDBPool(database: try Database(), configuration: .init(connections: 1))
        let stale = try await pool.withConnection { $0.interruptHandle }
        let finished = Atomic<Bool>(false)
        let later = Task {
            defer { finished.store(true, ordering: .releasing) }
            return try await pool.query("SELECT count(*) AS n FROM range(300000000) a WHERE a.range % 7 = 1")
        }
        // On a loaded machine the job may end before this task is scheduled again: then there was
        // nothing to interrupt, and its answer is still checked below.
        await eventually("the later job to run") { pool.statistics.running == 1 || finished.load(ordering: .acquiring) }
        // Fire the stale handle for as long as the later job runs.
        while pool.statistics.running == 1 {
            stale.interrupt()
            await Task.yield()
        }
        #expect(try await later.value.row(0) == [.int(42_857_143)])
        await pool.shutdown()
        stale.interrupt()  // the connection is closed: harmless, not a use after free
    }

    @Test func shutdownInterruptsARunningStatement() async throws {
        let pool = try DuckDBPool(database: try Database(), configuration: .init(connections: 1))
        let running = Task { try await pool.query(longQuery) }
        await eventually("the long query to run") { pool.statistics.running == 1 }
        try await withTimeLimit(.seconds(30), "shutdown") { await pool.shutdown() }
        await #expect(throws: DuckDBPoolError.shutDown) { try await running.value }
        #expect(pool.statistics.shutDown == 1)
    }

    @Test func aJobHoldingTheLastReferenceToItsPoolReleasesItWithoutDeadlock() async throws {
        // A stuck job's caller is answered at its deadline; the job's closure then holds the last
        // reference to the pool, released by the worker when the job ends: the pool's deinit must
        // not run with the pool's lock held (it takes that lock).
        let gate = Gate()
        weak var core: PoolCore?
        do {
            let pool = try DuckDBPool(database: try Database(), configuration: .init(connections: 1))
            core = pool.core
            await #expect(throws: DuckDBPoolError.timedOut(.milliseconds(20))) {
                try await pool.withConnection(timeout: .milliseconds(20)) { [pool] _ in
                    gate.wait()
                    return pool.configuration.connections
                }
            }
        }
        gate.open()
        await eventually("the pool's threads to end and release it") { core == nil }
    }

    @Test func writesGetTheWritersDefaultTimeout() async throws {
        let writer = try DuckDBWriter(database: try Database(), defaultTimeout: .milliseconds(50))
        await #expect(throws: DuckDBPoolError.timedOut(.milliseconds(50))) {
            try await writer.write { try $0.query(longQuery) }
        }
        // The writer still works after a timed-out write. The explicit bound is generous: under a
        // loaded test run the interrupted query may take longer than 50 ms to unwind.
        #expect(try await writer.write(timeout: .seconds(60)) { try $0.query("SELECT 1 AS x") }.row(0) == [.int(1)])
        await writer.shutdown()
    }
}

/// What one job does to its connection's session never reaches the next job, and served queries
/// cannot change shared state through functions DuckDB classifies as SELECT.
@Suite(.timeLimit(.minutes(2))) struct SessionIsolationTests {
    @Test func sessionSettingsAndTempObjectsOfAJobDoNotReachTheNext() async throws {
        let pool = try DuckDBPool(database: try Database(), configuration: .init(connections: 1))
        _ = try await pool.execute("CREATE TABLE t (i INTEGER); INSERT INTO t VALUES (1)")
        try await pool.withConnection { connection in
            _ = try connection.execute("SET TimeZone = 'Asia/Tokyo'")
            _ = try connection.execute("CREATE TEMP VIEW t AS SELECT 99 AS i")
            connection.maxResultBytes = nil
        }
        #expect(try await pool.query("SELECT current_setting('TimeZone') AS tz").row(0) == [.string("UTC")])
        #expect(try await pool.query("SELECT i FROM t").row(0) == [.int(1)])
        #expect(pool.statistics.connectionsReplaced >= 1)
        #expect(try await pool.withConnection { $0.maxResultBytes } == 1 << 30)
        await pool.shutdown()
    }

    @Test func aWriteThatLeavesItsTransactionOpenIsReportedAsNotCommitted() async throws {
        let database = try Database()
        let writer = try DuckDBWriter(database: database)
        try await writer.write { _ = try $0.execute("CREATE TABLE t (i INTEGER)") }
        await #expect(throws: DuckDBError.self) {
            try await writer.write { try $0.execute("BEGIN TRANSACTION; INSERT INTO t VALUES (1)") }
        }
        #expect(try await writer.write { try $0.query("SELECT count(*) AS n FROM t") }.row(0) == [.int(0)])
        await writer.shutdown()
    }

    @Test func aResultStoppedByTheCapDoesNotHoldItsTransactionOpen() async throws {
        // A streaming result dropped half-read keeps DuckDB's query and transaction open until the
        // connection's next statement; a CHECKPOINT waits for it. The pool's reset ends it.
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let database = try Database(path: dir.appendingPathComponent("db.duckdb").path)
        let writer = try DuckDBWriter(database: database)
        try await writer.write { _ = try $0.execute("CREATE TABLE t AS SELECT range AS i, repeat('x', 50) AS s FROM range(200000)") }
        let pool = try DuckDBPool(database: database, configuration: .init(connections: 1, maxResultBytes: 1 << 20))
        await #expect(throws: DuckDBError.self) { try await pool.query("SELECT * FROM t") }
        try await writer.write { _ = try $0.execute("INSERT INTO t VALUES (-1, 'y')") }
        // Checkpoint through a pool, whose deadline answers its caller even if DuckDB stays blocked
        // (a regression fails here instead of hanging the suite).
        let other = try DuckDBPool(database: database, configuration: .init(connections: 1))
        await #expect(throws: Never.self) { try await other.execute("CHECKPOINT", timeout: .seconds(60)) }
        // Closing the first pool ends its connection's statement in any case, so nothing hangs.
        await pool.shutdown()
        await other.shutdown()
        await writer.shutdown()
    }
}

extension ReadOnlyPoolTests {
    @Test func servedQueriesCannotCallFunctionsThatWriteOrChangeSharedState() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let database = try Database(path: dir.appendingPathComponent("db.duckdb").path)
        let writer = try DuckDBWriter(database: database)
        try await writer.write { _ = try $0.execute("CREATE TABLE t (i INTEGER); INSERT INTO t VALUES (1); CREATE SEQUENCE s") }
        let pool = try Self.servedPool(database)
        let refused = [
            "SELECT * FROM enable_logging(storage = 'file', storage_path = '\(dir.path)/logs')",
            "SELECT nextval('s')", "SELECT * FROM (SELECT i, NextVal('s') AS n FROM t)", "SELECT * FROM checkpoint()",
            "SELECT * FROM force_checkpoint()", "SELECT setseed(0.5)", "SELECT * FROM query('SELECT nextval(''s'')')",
            "SELECT list_transform([1], x -> nextval('s'))", "WITH c AS (SELECT * FROM checkpoint()) SELECT 1",
        ]
        for sql in refused {
            do {
                _ = try await pool.query(sql)
                Issue.record("ran: \(sql)")
            } catch let error as DuckDBError {
                #expect(error.kind == .readOnly, "\(sql): \(error)")
            }
        }
        // PIVOT is several statements to DuckDB (and cannot be inspected): refused too.
        await #expect(throws: DuckDBError.self) { try await pool.query("PIVOT t ON i USING count(*)") }
        // The database is untouched and still answers everyone.
        #expect(try await pool.query("SELECT i FROM t").row(0) == [.int(1)])
        #expect(try await writer.write { try $0.query("SELECT nextval('s') AS n") }.row(0) == [.int(1)])
        await pool.shutdown()
        await writer.shutdown()
    }

    @Test func tableNamesAreCanonical() async throws {
        let pool = try DuckDBPool(database: try Database(), configuration: .init(connections: 1))
        _ = try await pool.execute("CREATE TABLE Orders (k INTEGER); CREATE VIEW v AS SELECT * FROM orders")
        #expect(try await pool.tableNames(in: #"SELECT * FROM "ORDERS" o JOIN v ON o.k = v.k"#) == ["orders"])
        #expect(try await pool.tableNames(in: "SELECT * FROM memory.main.Orders AS x", qualified: true) == ["memory.main.orders"])
        await pool.shutdown()
    }

    @Test func tableNamesOfParameterisedStatementsAreListed() async throws {
        let pool = try DuckDBPool(database: try Database(), configuration: .init(connections: 1, readOnly: false))
        _ = try await pool.execute("CREATE TABLE orders (k INTEGER, t VARCHAR); CREATE TABLE regions (r VARCHAR); CREATE VIEW v AS SELECT * FROM regions")
        // DuckDB's own listing refuses parameters ("Unexpected prepared parameter").
        #expect(try await pool.tableNames(in: "SELECT count(*) FROM orders WHERE t = ? AND k > ?") == ["orders"])
        #expect(try await pool.tableNames(in: "SELECT * FROM orders WHERE t = $tenant AND '?' <> $tenant") == ["orders"])
        #expect(try await pool.tableNames(in: """
            WITH recent AS (SELECT * FROM orders WHERE k > $1)
            SELECT * FROM recent WHERE t IN (SELECT r FROM v WHERE r <> $2) LIMIT $3
            """) == ["orders", "regions"])
        // The statement itself is untouched: it still runs with its parameters.
        #expect(try await pool.query("SELECT count(*) FROM orders WHERE t = ?", [.string("x")]).row(0) == [.int(0)])
        await #expect(throws: DuckDBError.self) { try await pool.tableNames(in: "SELECT * FROM orders WHERE") }
        // Views DuckDB 1.4.4's listing fails to bind: their tables come from the plan's scans,
        // nested views included, parameters too, and the optimizer stays on for queries after.
        _ = try await pool.execute("""
            CREATE VIEW big AS SELECT * FROM orders WHERE k > 100;
            CREATE VIEW nested AS SELECT b.k, r.r FROM big b, regions r WHERE r.r = b.t
            """)
        #expect(try await pool.tableNames(in: "SELECT count(*) FROM big") == ["orders"])
        #expect(try await pool.tableNames(in: "SELECT * FROM nested WHERE k > ? AND false") == ["orders", "regions"])
        #expect(try await pool.tableNames(in: "WITH x AS (SELECT * FROM big WHERE t = $1) SELECT 42 FROM x") == ["orders"])
        let plan = try await pool.query("EXPLAIN (FORMAT JSON) SELECT k FROM orders WHERE false")
        guard case .string(let json) = plan.row(0)[1] else { Issue.record("no plan"); return }
        #expect(json.contains("EMPTY_RESULT"), "the optimizer pruned the scan: it is on again")
        await pool.shutdown()
    }
}
