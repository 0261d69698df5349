import DuckDBClient
import ResultFormat
import TestSupport
import Testing

/// Statements that ignore DuckDB's interrupt (an `httpfs` read from a server that never answers,
/// here a pool thread held at a gate) must not hold their callers past the deadline or a cancellation.
@Suite struct PoolAbandonTests {
    @Test func aStatementThatIgnoresItsInterruptStillAnswersItsCallerAtTheDeadline() async throws {
        let pool = try DuckDBPool(database: try Database(), configuration: .init(connections: 1))
        let gate = Gate()
        let finished = Shared(false)
        let started = Shared(false)
        // A job whose deadline passes before a worker picks it up fails without running; under a
        // loaded test run that can happen, so try until one attempt has actually started.
        var attempts = 0
        repeat {
            attempts += 1
            await #expect(throws: DuckDBPoolError.timedOut(.milliseconds(100))) {
                try await pool.withConnection(timeout: .milliseconds(100)) { _ in
                    started.withLock { $0 = true }
                    gate.wait()
                    finished.withLock { $0 = true }
                    return 1
                }
            }
        } while !started.value && attempts < 20
        try #require(started.value)
        // Answered while the work was still blocked.
        #expect(finished.value == false)
        // Its connection is still busy: the next request waits for the late work, then runs.
        let next = Task { try await pool.query("SELECT 5 AS x") }
        await eventually("the next request to queue") { pool.statistics.queued == 1 }
        gate.open()
        #expect(try await next.value.row(0) == [.int(5)])
        #expect(finished.value)
        #expect(pool.statistics.timedOut == attempts)
        await pool.shutdown()
    }

    @Test func aStatementThatIgnoresItsInterruptStillAnswersACancelledCaller() async throws {
        let pool = try DuckDBPool(database: try Database(), configuration: .init(connections: 1))
        let gate = Gate()
        let task = Task {
            try await pool.withConnection { _ in
                gate.wait()
                return 1
            }
        }
        // An explicit state check, never a blocking wait on a cooperative thread.
        await eventually("the job to run") { pool.statistics.running == 1 }
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        gate.open()
        #expect(try await pool.query("SELECT 6 AS x").row(0) == [.int(6)])
        #expect(pool.statistics.cancelled == 1)
        await pool.shutdown()
    }

    @Test func workThatFinishesWithinTheGraceIsAnsweredOnceWithItsOwnOutcome() async throws {
        // Many short timeouts racing the work's own completion: every caller gets exactly one answer
        // (a value or the timeout), never a crash from a second resume.
        let pool = try DuckDBPool(database: try Database(), configuration: .init(connections: 2))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<200 {
                group.addTask {
                    do {
                        let v = try await pool.withConnection(timeout: .microseconds(Int64(50 + (i % 7) * 40))) { connection in
                            try connection.query("SELECT \(i) AS x").row(0)
                        }
                        #expect(v == [.int(Int64(i))])
                    } catch let error as DuckDBPoolError {
                        #expect(error == .timedOut(.microseconds(Int64(50 + (i % 7) * 40))))
                    }
                }
            }
            try await group.waitForAll()
        }
        await pool.shutdown()
    }
}

@Suite struct WriterAndShutdownDeadlineTests {
    @Test func theWriterKeepsItsCallerUntilAStuckWriteReallyEnds() async throws {
        let database = try Database()
        let writer = try DuckDBWriter(database: database)
        // A reader pool with the same stuck job is the reference: it answers its caller after the
        // deadline plus the grace; by then the writer must still hold its caller.
        let pool = try DuckDBPool(database: database, configuration: .init(connections: 1))
        let writeGate = Gate()
        let readGate = Gate()
        let writeDone = Shared(false)
        let started = Shared(false)
        // A write whose deadline passes before the writer thread picks it up fails without running;
        // under a loaded test run that can happen, so try until one attempt has actually started.
        var write: Task<Int, any Error>
        var attempts = 0
        repeat {
            attempts += 1
            writeDone.withLock { $0 = false }
            write = Task {
                defer { writeDone.withLock { $0 = true } }
                return try await writer.write(timeout: .milliseconds(50)) { _ in
                    started.withLock { $0 = true }
                    writeGate.wait()
                    return 7
                }
            }
            await eventually("the write to start or be refused unstarted") { started.value || writeDone.value }
        } while !started.value && attempts < 20
        try #require(started.value)
        await #expect(throws: DuckDBPoolError.timedOut(.milliseconds(100))) {
            try await pool.withConnection(timeout: .milliseconds(100)) { _ in readGate.wait() }
        }
        #expect(writeDone.value == false, "the writer answered a write that had not ended")
        writeGate.open()
        // The write ran to completion: its caller gets its real outcome.
        #expect(try await write.value == 7)
        readGate.open()
        await writer.shutdown()
        await pool.shutdown()
    }

    @Test func deadlinesStillAnswerCallersWhileThePoolShutsDown() async throws {
        let pool = try DuckDBPool(database: try Database(), configuration: .init(connections: 1))
        let gate = Gate()
        let answered = Shared(false)
        // A job whose deadline passes before a worker picks it up fails without running; under a
        // loaded test run that can happen, so try until one attempt has actually started.
        var stuck: Task<Void, any Error>
        var attempts = 0
        repeat {
            attempts += 1
            answered.withLock { $0 = false }
            stuck = Task {
                defer { answered.withLock { $0 = true } }
                try await pool.withConnection(timeout: .milliseconds(100)) { _ in
                    gate.wait()
                }
            }
            await eventually("the job to run or be refused unstarted") { pool.statistics.running == 1 || answered.value }
        } while pool.statistics.running != 1 && attempts < 20
        try #require(pool.statistics.running == 1)
        let shutdown = Task { await pool.shutdown() }
        // The caller is answered although shutdown began while its statement was stuck.
        await #expect(throws: DuckDBPoolError.timedOut(.milliseconds(100))) { try await stuck.value }
        gate.open()
        await shutdown.value
    }
}
