import ArgumentParser
import DuckDBClient
import Foundation
import ResultFormat

/// `analytics-cache-bench format`: the Arrow archive against row counts and against JSONDecoder,
/// and encoder throughput, measured in the same run.
struct FormatBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "format",
        abstract: "Open + read one cell of an Arrow archive (1 k vs 1 M rows), open + read every cell vs JSONDecoder, and encode throughput."
    )

    @Option(help: "Rows of the large result.")
    var rows = 1_000_000

    @Option(help: "Repetitions of each encode measurement (median reported).")
    var repetitions = 5

    func validate() throws {
        guard rows >= 100_000, repetitions >= 1 else { throw ValidationError("need --rows >= 100000, --repetitions >= 1") }
    }

    /// A row of the benchmark table as a client would decode it from JSON.
    struct Row: Decodable {
        var id: Int64
        var amount: Double
        var name: String
        var day: String
        var flag: Bool
    }

    func run() async throws {
        let connection = try Database().connect()
        _ = try connection.execute(DuckDBBench.tableSQL(rows: rows))
        func result(_ n: Int) throws -> QueryResult { try connection.query("SELECT * FROM bench ORDER BY id LIMIT \(n)") }
        let small = try result(1000), medium = try result(100_000), large = try result(rows)
        let writer = ArrowIPCWriter()
        let smallBytes = try writer.encode(small), mediumBytes = try writer.encode(medium), largeBytes = try writer.encode(large)
        let clock = ContinuousClock()

        // 1. Open + read one cell: O(columns + batches), not O(rows).
        func openAndRead(_ bytes: [UInt8], row: Int) throws -> Duration {
            var sink = 0.0
            var samples: [Duration] = []
            for _ in 0..<21 {
                let iterations = 2000
                let start = clock.now
                for i in 0..<iterations {
                    let archive = try ArchivedResult(bytes: bytes)
                    sink += Double(try archive.column(1).int128s()[(row + i) % archive.rowCount])
                }
                samples.append((clock.now - start) / iterations)
            }
            if sink == -1 { print(sink) }
            return median(samples)
        }
        let openSmall = try openAndRead(smallBytes, row: 500)
        let openLarge = try openAndRead(largeBytes, row: rows / 2)
        let openMedium = try openAndRead(mediumBytes, row: 50_000)
        print("open + read one cell: 1 k rows \(us(openSmall)) µs, \(rows / 1000) k rows (\(try ArchivedResult(bytes: largeBytes).batchCount) batches) \(us(openLarge)) µs → ratio \(fmt(seconds(openLarge) / seconds(openSmall), 2)) (goal ≤ 1.5)")
        // The same rows in one batch: what is left once the per-batch checks are taken out.
        let oneBatch = try openAndRead(try ArrowIPCWriter(maxRowsPerBatch: rows).encode(large), row: rows / 2)
        print("  same \(rows / 1000) k rows in 1 batch: \(us(oneBatch)) µs → ratio \(fmt(seconds(oneBatch) / seconds(openSmall), 2)); per extra batch \(fmt((seconds(openLarge) - seconds(oneBatch)) * 1e9 / Double(try ArchivedResult(bytes: largeBytes).batchCount - 1), 0)) ns")

        // 2. Reading every cell, against JSONDecoder decoding the same 100 k rows into structs
        //    (which reads every cell too): open the archive and visit each value with its typed view.
        let json = Data(JSONResultEncoder().encode(medium))
        var decodeSamples: [Duration] = []
        for _ in 0..<5 {
            let start = clock.now
            let decoded = try JSONDecoder().decode([Row].self, from: json)
            decodeSamples.append(clock.now - start)
            precondition(decoded.count == 100_000)
        }
        let decode = median(decodeSamples)
        var readSamples: [Duration] = []
        var checksum = 0
        for _ in 0..<21 {
            let start = clock.now
            let archive = try ArchivedResult(bytes: mediumBytes)
            var sum = Int128(0)
            for v in try archive.column(0).int64s() { sum &+= Int128(v) }
            for v in try archive.column(1).int128s() { sum &+= v }
            let names = try archive.column(2).strings()
            for row in 0..<archive.rowCount { sum &+= Int128(try names.withBytes(at: row) { $0.count }) }
            for v in try archive.column(3).int32s() { sum &+= Int128(v) }
            for v in try archive.column(4).booleans() where v { sum &+= 1 }
            readSamples.append(clock.now - start)
            checksum &+= Int(truncatingIfNeeded: sum)
        }
        if checksum == 42 { print(checksum) }
        let readAll = median(readSamples)
        print("100 k rows × 5 columns, every cell: JSONDecoder into structs \(ms(decode)) ms, archive open + typed reads \(ms(readAll)) ms → \(fmt(seconds(decode) / seconds(readAll), 1))× faster")

        // 3. Encode throughput at the large size.
        let archive = try ArchivedResult(bytes: largeBytes)
        func throughput(_ name: String, _ body: () throws -> Int) rethrows {
            var samples: [Duration] = []
            var bytes = 0
            for _ in 0..<repetitions {
                let start = clock.now
                bytes = try body()
                samples.append(clock.now - start)
            }
            let t = median(samples)
            print("  \(name): \(fmt(Double(bytes) / 1e6, 1)) MB in \(ms(t)) ms = \(fmt(Double(bytes) / 1e6 / seconds(t), 0)) MB/s")
        }
        print("encode \(rows / 1000) k rows × 5 columns (id BIGINT, amount DECIMAL, name VARCHAR, day DATE, flag BOOLEAN):")
        try throughput("Arrow IPC from QueryResult") { try writer.encode(large).count }
        try throughput("JSON rows from ArchivedResult") { try JSONResultEncoder().encode(archive).count }
        try throughput("JSON columns from ArchivedResult") { try JSONResultEncoder(layout: .columns).encode(archive).count }
        try throughput("CSV from ArchivedResult") { try CSVResultEncoder().encode(archive).count }
        throughput("JSON rows from QueryResult") { JSONResultEncoder().encode(large).count }
        throughput("CSV from QueryResult") { CSVResultEncoder().encode(large).count }
    }

    private func us(_ d: Duration) -> String { fmt(seconds(d) * 1e6, 2) }
}
