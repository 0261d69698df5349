import ArgumentParser
import CDuckDB
import DuckDBClient
import ResultFormat

/// `analytics-cache-bench duckdb`: the DuckDB layer against the raw C API, measured in the same run.
struct DuckDBBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "duckdb",
        abstract: "Result conversion and pool overhead versus the raw DuckDB C API."
    )

    @Option(help: "Rows of the conversion benchmark's table.")
    var rows = 1_000_000

    @Option(help: "Repetitions of the conversion benchmark (median reported).")
    var repetitions = 9

    @Option(help: "Calls of the SELECT 1 benchmark (median reported).")
    var calls = 20_000

    @Option(help: "Pool connections (default: core count).")
    var connections = DuckDBPool.coreCount

    @Option(help: "Microseconds an idle pool thread polls before sleeping.")
    var spinMicroseconds = 50

    @Option(help: "DuckDB's threads setting for both the baseline and the pool's database (default: DuckDB's, the core count).")
    var duckdbThreads: Int?

    static func tableSQL(rows: Int) -> String {
        """
        CREATE TABLE bench AS SELECT i::BIGINT AS id, i * 1.5 AS amount, 'customer-' || (i % 1000) AS name,
          DATE '2020-01-01' + (i % 1000)::INTEGER AS day, (i % 7 = 0) AS flag FROM range(\(rows)) r(i)
        """
    }

    enum MallocMode: String, ExpressibleByArgument, CaseIterable { case both, `default`, tuned }

    @Option(help: "Allocator settings to measure conversion with: default (glibc's), tuned (the server's), or both.")
    var malloc: MallocMode = .both

    func validate() throws {
        guard rows >= 1, repetitions >= 1, calls >= 15, connections >= 1, spinMicroseconds >= 0 else {
            throw ValidationError("need --rows >= 1, --repetitions >= 1, --calls >= 15, --connections >= 1, --spin-microseconds >= 0")
        }
    }

    func run() async throws {
        let raw = try RawDuckDB(threads: duckdbThreads)
        try raw.run(Self.tableSQL(rows: rows))
        let database = try Database(configuration: .init(threads: duckdbThreads))
        let pool = try DuckDBPool(
            database: database, configuration: .init(connections: connections, idleSpin: .microseconds(spinMicroseconds)))
        _ = try await pool.execute(Self.tableSQL(rows: rows))

        // 1. Result conversion: draining chunks (no conversion) vs. DuckDBPool → QueryResult, first
        //    with glibc's default thresholds, then with the executable's allocator tuning.
        let scan = "SELECT * FROM bench"
        let clock = ContinuousClock()
        if malloc != .tuned {
            try await measureConversion(raw: raw, pool: pool, scan: scan, label: "default malloc")
        }
        if malloc != .default && MemoryTuning.apply() {
            try await measureConversion(raw: raw, pool: pool, scan: scan, label: "tuned malloc")
        }

        // 2. SELECT 1 round trip: the raw prepared statement on this thread vs. through the pool.
        //    Each side runs in blocks of its own (interleaving single calls makes both pay for DuckDB's
        //    threads going to sleep and waking); 15 alternating rounds spread the machine's noise
        //    over both sides; the overhead reported is the median of the rounds' differences.
        let select1 = "SELECT 1"
        let rounds = 15
        let block = max(1, calls / rounds)
        var rawMedians: [Duration] = []
        var poolMedians: [Duration] = []
        var noopMedians: [Duration] = []
        var overheads: [Duration] = []
        for _ in 0..<50 { _ = try raw.drain(select1); _ = try await pool.query(select1) }
        for _ in 0..<rounds {
            var rawCalls: [Duration] = []
            var poolCalls: [Duration] = []
            var noopCalls: [Duration] = []
            for _ in 0..<block { rawCalls.append(try clock.measure { _ = try raw.drain(select1) }) }
            for _ in 0..<block { poolCalls.append(try await clock.measure { _ = try await pool.query(select1) }) }
            for _ in 0..<block { noopCalls.append(try await clock.measure { _ = try await pool.withConnection { _ in 0 } }) }
            rawMedians.append(median(rawCalls))
            poolMedians.append(median(poolCalls))
            noopMedians.append(median(noopCalls))
            overheads.append(median(poolCalls) - median(rawCalls))
        }
        // Where the overhead goes: a job that busy-waits on the pool thread lets the awaiting task's
        // thread go to sleep, and waking it is most of what a real statement pays over an empty job.
        var busyCalls: [Duration] = []
        for _ in 0..<block {
            busyCalls.append(try await clock.measure {
                _ = try await pool.withConnection { _ in
                    let end = ContinuousClock.now.advanced(by: .microseconds(40))
                    while ContinuousClock.now < end {}
                    return 0
                }
            })
        }
        let rawMedian = median(rawMedians), poolMedian = median(poolMedians)
        print("select1: raw C API median \(fmt(seconds(rawMedian) * 1e6, 1)) us, DuckDBPool median "
              + "\(fmt(seconds(poolMedian) * 1e6, 1)) us, ratio \(fmt(seconds(poolMedian) / seconds(rawMedian), 2)), "
              + "pool overhead \(fmt(seconds(median(overheads)) * 1e6, 1)) us (goal <= 20 us); "
              + "hand-off alone (empty job) median \(fmt(seconds(median(noopMedians)) * 1e6, 1)) us "
              + "[\(rounds) rounds x \(block) calls, pool of \(connections), idle spin \(spinMicroseconds) us, "
              + "DuckDB threads \(duckdbThreads.map(String.init) ?? "default")]")
        print("select1 breakdown: a job busy for 40 us round-trips in \(fmt(seconds(median(busyCalls)) * 1e6, 1)) us "
              + "(the awaiting task's thread had time to sleep and must be woken)")
        await pool.shutdown()
    }
}


extension DuckDBBench {
    func measureConversion(raw: RawDuckDB, pool: DuckDBPool, scan: String, label: String) async throws {
        let clock = ContinuousClock()
        var rawTimes: [Duration] = []
        var poolTimes: [Duration] = []
        for _ in 0..<repetitions {
            rawTimes.append(try clock.measure { let n = try raw.drain(scan); precondition(n == rows) })
            poolTimes.append(try await clock.measure {
                let r = try await pool.query(scan)
                precondition(r.rowCount == rows)
            })
        }
        let rawScan = median(rawTimes), poolScan = median(poolTimes)
        let ratio = seconds(poolScan) / seconds(rawScan)
        print("conversion (\(label)): \(rows) rows x 5 columns: raw fetch_chunk drain median \(ms(rawScan)) ms, "
              + "DuckDBPool -> QueryResult median \(ms(poolScan)) ms, ratio \(fmt(ratio, 3)) "
              + "(conversion adds \(fmt((ratio - 1) * 100, 1)) %, goal <= 30 %)")
    }
}

