import ArgumentParser
import DiskCache
import Foundation
import GRDB

/// `analytics-cache-bench disk`: DiskCache (LMDB) against a SQLite table in WAL mode through GRDB —
/// the seed's option 3 — on the same values, in the same run.
struct DiskBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "disk",
        abstract: "Disk cache get/put latency (p50/p99) against SQLite (WAL) through GRDB."
    )

    @Option(help: "Directory for the benchmark's files (default: a new one under the system temporary directory).")
    var directory: String?

    @Option(help: "Operations per value size for the `none` durability (a tenth of that for `immediate`, at least 20).")
    var operations = 2000

    func validate() throws {
        guard operations >= 20 else { throw ValidationError("need --operations >= 20") }
    }

    struct Latencies {
        var put: [Duration] = []
        var get: [Duration] = []

        func line(_ name: String) -> String {
            "\(name): put p50 \(us(percentile(put, 0.5))) p99 \(us(percentile(put, 0.99))) · get p50 \(us(percentile(get, 0.5))) p99 \(us(percentile(get, 0.99))) µs"
        }
    }

    func run() async throws { try measureAll() }

    /// Synchronous on purpose: every call is timed as a caller on its own thread would see it.
    func measureAll() throws {
        let root = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("disk-bench-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { if directory == nil { try? FileManager.default.removeItem(atPath: root) } }
        print("directory: \(root); CRC-32C \(CRC32C.usesHardware ? "with the CPU instruction" : "in software")")
        for size in [1 << 10, 100 << 10, 1 << 20] {
            for (durability, sqliteSync) in [(Durability.none, "OFF"), (.immediate, "FULL")] {
                let count = durability == .none ? max(20, operations * 1024 / max(1024, size / 8)) : max(20, operations / 10)
                let keys = (0..<count).map { "query-\($0)?param=\($0 * 7)" }
                var value = [UInt8](repeating: 0, count: size)
                for i in value.indices { value[i] = UInt8(truncatingIfNeeded: i &* 31 &+ i >> 8) }
                let label = "\(size >> 10) KB, \(durability == .none ? "none/OFF" : "immediate/FULL"), \(count) ops"

                let lmdbPath = root + "/lmdb-\(size)-\(durability)"
                let cache = try DiskCache(configuration: .init(
                    path: lmdbPath, mapSize: max(1 << 30, 4 * count * (size + 4096)), durability: durability))
                let lmdb = try measure(keys) { key in
                    _ = try value.withUnsafeBytes { try cache.put($0, forKey: key) }
                } get: { key in
                    try cache.withValue(forKey: key) { $0.count } ?? 0
                }

                let sqlitePath = root + "/sqlite-\(size)-\(durability).db"
                var config = Configuration()
                config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = \(sqliteSync)") }
                let pool = try DatabasePool(path: sqlitePath, configuration: config)
                // GRDB sets NORMAL for WAL connections; the writer keeps what is set here.
                try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = \(sqliteSync)") }
                try pool.write { db in
                    try db.execute(sql: "CREATE TABLE cache (key TEXT PRIMARY KEY, value BLOB NOT NULL, expires_at INTEGER)")
                }
                let sqlite = try measure(keys) { key in
                    try pool.write { db in
                        try db.execute(sql: "INSERT OR REPLACE INTO cache (key, value, expires_at) VALUES (?, ?, NULL)",
                                       arguments: [key, Data(value)])
                    }
                } get: { key in
                    try pool.read { db in try Data.fetchOne(db, sql: "SELECT value FROM cache WHERE key = ?", arguments: [key])?.count ?? 0 }
                }
                print(label)
                print("  " + lmdb.line("DiskCache (LMDB)"))
                print("  " + sqlite.line("SQLite WAL (GRDB)"))
                print("  ratio SQLite/DiskCache p50: put \(fmt(seconds(percentile(sqlite.put, 0.5)) / seconds(percentile(lmdb.put, 0.5)), 2)), get \(fmt(seconds(percentile(sqlite.get, 0.5)) / seconds(percentile(lmdb.get, 0.5)), 2))")
            }
        }
    }

    /// Puts every key, then gets every key in a shuffled order, timing each call.
    func measure(_ keys: [String], put: (String) throws -> Void, get: (String) throws -> Int) throws -> Latencies {
        let clock = ContinuousClock()
        var result = Latencies()
        for key in keys {
            let start = clock.now
            try put(key)
            result.put.append(clock.now - start)
        }
        var random = SystemRandomNumberGenerator()
        var total = 0
        for key in keys.shuffled(using: &random) {
            let start = clock.now
            total += try get(key)
            result.get.append(clock.now - start)
        }
        precondition(total > 0, "every key was stored")
        return result
    }
}

private func us(_ d: Duration) -> String { fmt(seconds(d) * 1e6, 1) }
