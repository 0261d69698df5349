import ArgumentParser
import CDuckDB
import DuckDBClient
import ResultFormat

/// `analytics-cache bench duckdb`: measures the DuckDB layer against the raw C API in the same run.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run a benchmark and print ratios against a baseline measured in the same run.",
        subcommands: [DuckDBBench.self]
    )
}

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

    static func tableSQL(rows: Int) -> String {
        """
        CREATE TABLE bench AS SELECT i::BIGINT AS id, i * 1.5 AS amount, 'customer-' || (i % 1000) AS name,
          DATE '2020-01-01' + (i % 1000)::INTEGER AS day, (i % 7 = 0) AS flag FROM range(\(rows)) r(i)
        """
    }

    enum MallocMode: String, ExpressibleByArgument, CaseIterable { case both, `default`, tuned }

    @Option(help: "Allocator settings to measure conversion with: default (glibc's), tuned (the server's), or both.")
    var malloc: MallocMode = .both

    func run() async throws {
        let raw = try RawDuckDB()
        try raw.run(Self.tableSQL(rows: rows))
        let database = try Database()
        let pool = try DuckDBPool(database: database)
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
        //    Each side runs in blocks of its own (interleaving single calls would make both pay for
        //    DuckDB's threads going to sleep and waking); three rounds, medians over all calls.
        let select1 = "SELECT 1"
        var rawCalls: [Duration] = []
        var poolCalls: [Duration] = []
        var noopCalls: [Duration] = []
        let block = max(1, calls / 3)
        for _ in 0..<3 {
            for _ in 0..<200 { _ = try raw.drain(select1) }
            for _ in 0..<block { rawCalls.append(try clock.measure { _ = try raw.drain(select1) }) }
            for _ in 0..<200 { _ = try await pool.query(select1) }
            for _ in 0..<block { poolCalls.append(try await clock.measure { _ = try await pool.query(select1) }) }
            for _ in 0..<block { noopCalls.append(try await clock.measure { _ = try await pool.withConnection { _ in 0 } }) }
        }
        let rawMedian = median(rawCalls), poolMedian = median(poolCalls)
        let overhead = (seconds(poolMedian) - seconds(rawMedian)) * 1e6
        print("select1: raw C API median \(fmt(seconds(rawMedian) * 1e6, 1)) us, DuckDBPool median "
              + "\(fmt(seconds(poolMedian) * 1e6, 1)) us, ratio \(fmt(seconds(poolMedian) / seconds(rawMedian), 2)), "
              + "pool overhead \(fmt(overhead, 1)) us (goal <= 20 us); "
              + "hand-off alone (empty job) median \(fmt(seconds(median(noopCalls)) * 1e6, 1)) us")
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

/// The baseline: DuckDB's C API used directly, converting nothing.
final class RawDuckDB {
    private var database: duckdb_database?
    private var connection: duckdb_connection?
    private var statements: [String: duckdb_prepared_statement] = [:]

    init() throws {
        guard duckdb_open(nil, &database) == DuckDBSuccess, duckdb_connect(database, &connection) == DuckDBSuccess else {
            throw ValidationError("could not open DuckDB")
        }
    }

    deinit {
        for (_, s) in statements { var h: duckdb_prepared_statement? = s; duckdb_destroy_prepare(&h) }
        duckdb_disconnect(&connection)
        duckdb_close(&database)
    }

    func run(_ sql: String) throws {
        var result = duckdb_result()
        defer { duckdb_destroy_result(&result) }
        guard duckdb_query(connection, sql, &result) == DuckDBSuccess else {
            throw ValidationError(String(cString: duckdb_result_error(&result)))
        }
    }

    /// Runs a prepared statement (streaming, like the pool) and fetches every chunk; returns the row count.
    func drain(_ sql: String) throws -> Int {
        let statement: duckdb_prepared_statement
        if let s = statements[sql] {
            statement = s
        } else {
            var s: duckdb_prepared_statement?
            guard duckdb_prepare(connection, sql, &s) == DuckDBSuccess, let s else { throw ValidationError("prepare failed") }
            statements[sql] = s
            statement = s
        }
        var result = duckdb_result()
        defer { duckdb_destroy_result(&result) }
        guard duckdb_execute_prepared_streaming(statement, &result) == DuckDBSuccess else {
            throw ValidationError(String(cString: duckdb_result_error(&result)))
        }
        var rows = 0
        while let chunk = duckdb_fetch_chunk(result) {
            rows += Int(duckdb_data_chunk_get_size(chunk))
            var c: duckdb_data_chunk? = chunk
            duckdb_destroy_data_chunk(&c)
        }
        return rows
    }
}

func median(_ values: [Duration]) -> Duration {
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
}

func seconds(_ d: Duration) -> Double {
    let (s, atto) = d.components
    return Double(s) + Double(atto) / 1e18
}

func ms(_ d: Duration) -> String { fmt(seconds(d) * 1000, 1) }

func fmt(_ x: Double, _ decimals: Int) -> String {
    var p = 1.0
    for _ in 0..<decimals { p *= 10 }
    let r = (x * p).rounded() / p
    var s = "\(r)"
    if let dot = s.firstIndex(of: ".") {
        let have = s.distance(from: dot, to: s.endIndex) - 1
        if have < decimals { s += String(repeating: "0", count: decimals - have) }
    }
    return s
}
