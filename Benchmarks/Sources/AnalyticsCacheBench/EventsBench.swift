import ArgumentParser
import DuckDBClient
import EventProjection
import EventStore
import Foundation
import GRDB
import Synchronization

/// `analytics-cache-bench events`: the event store's appends, delivery latency and the projector's
/// throughput, each next to a baseline measured in the same run.
struct EventsBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Event store appends/s, append → subscriber latency, projector throughput."
    )

    @Option(help: "Single-event appends measured.")
    var appends = 5000

    @Option(help: "Events projected into DuckDB.")
    var projected = 100_000

    func validate() throws {
        guard appends >= 100, projected >= 1000 else { throw ValidationError("need --appends >= 100, --projected >= 1000") }
    }

    func run() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("events-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let clock = ContinuousClock()
        let payload = #"{"customer":"c1","amount":42,"items":["a","b"]}"#

        // 1. Appends per second, against a bare GRDB insert of the same row (same WAL file settings).
        let log = try SQLiteEventStore(path: root.appendingPathComponent("events.sqlite").path)
        var start = clock.now
        for i in 0..<appends {
            _ = try await log.append([NewEvent(type: "OrderPlaced", payload: payload)], to: AggregateID(type: "order", id: "o\(i % 500)"), expectedVersion: .any)
        }
        let single = clock.now - start
        let bare = try DatabasePool(path: root.appendingPathComponent("bare.sqlite").path)
        // The log's own durability (every commit synced), so the ratio is the store's overhead.
        try await bare.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = FULL") }
        try await bare.write { db in try db.execute(sql: "CREATE TABLE t (position INTEGER PRIMARY KEY, type TEXT, id TEXT, payload TEXT)") }
        start = clock.now
        for i in 0..<appends {
            try await bare.write { db in
                try db.execute(sql: "INSERT INTO t (type, id, payload) VALUES (?, ?, ?)", arguments: ["OrderPlaced", "o\(i % 500)", payload])
            }
        }
        let bareTime = clock.now - start
        let singleRate = Double(appends) / seconds(single), bareRate = Double(appends) / seconds(bareTime)
        print("appends, 1 event each: \(Int(singleRate))/s; bare GRDB insert \(Int(bareRate))/s → ratio \(fmt(singleRate / bareRate, 2))")

        let batches = max(1, appends / 100)
        start = clock.now
        for i in 0..<batches {
            let events = (0..<100).map { _ in NewEvent(type: "OrderPlaced", payload: payload) }
            _ = try await log.append(events, to: AggregateID(type: "batch", id: "b\(i % 50)"), expectedVersion: .any)
        }
        let batched = clock.now - start
        print("appends, batches of 100: \(Int(Double(batches * 100) / seconds(batched))) events/s (\(Int(Double(batches) / seconds(batched))) appends/s)")

        // 2. Append → subscriber latency in this process, one event at a time (ping-pong).
        let received = Received()
        let from = try await log.lastPosition() + 1
        let subscriber = Task {
            for try await event in log.subscribe(from: from) {
                received.record(event.position, at: ContinuousClock.now)
            }
        }
        var latencies: [Duration] = []
        for i in 0..<1000 {
            let sent = clock.now
            let position = try await log.append([NewEvent(type: "Ping", payload: "{}")], to: AggregateID(type: "ping", id: "\(i % 10)"), expectedVersion: .any)[0].position
            var arrival: ContinuousClock.Instant?
            while arrival == nil {
                arrival = received.arrival(of: position)
                if arrival == nil { await Task.yield() }
            }
            if let arrival { latencies.append(arrival - sent) }
        }
        subscriber.cancel()
        print("append → subscriber, in process: p50 \(fmt(seconds(percentile(latencies, 0.5)) * 1e6, 0)) µs, p99 \(fmt(seconds(percentile(latencies, 0.99)) * 1e6, 0)) µs (append included)")

        // 3. Projector throughput into DuckDB, against appending the same rows directly.
        let projectionLog = try SQLiteEventStore(path: root.appendingPathComponent("projection.sqlite").path)
        var appended = 0
        while appended < projected {
            let events = (0..<min(500, projected - appended)).map { j in
                NewEvent(type: "OrderPlaced", payload: #"{"customer":"c\#((appended + j) % 100)","amount":\#((appended + j) % 97)}"#)
            }
            _ = try await projectionLog.append(events, to: AggregateID(type: "order", id: "o\(appended)"), expectedVersion: .any)
            appended += events.count
        }
        let writer = try DuckDBWriter(database: try Database(path: nil))
        let facts = Projection(
            name: "facts", eventTypes: ["OrderPlaced"],
            setupSQL: "CREATE TABLE IF NOT EXISTS facts (position BIGINT, order_id VARCHAR, payload VARCHAR)",
            apply: .appender(table: "facts") { [.int($0.position), .string($0.aggregate.id), .string($0.payload)] })
        let projector = Projector(name: "bench", log: projectionLog, writer: writer, projections: [facts], batchSize: 5000)
        start = clock.now
        let checkpoint = try await projector.catchUp()
        let projectTime = clock.now - start
        precondition(checkpoint == Int64(projected))
        // Baseline: the least a projector must do — read the log in the same batches, append the rows.
        try await writer.write { _ = try $0.execute("CREATE TABLE direct (position BIGINT, order_id VARCHAR, payload VARCHAR)") }
        start = clock.now
        var next: Int64 = 1
        while true {
            let rows = try await projectionLog.read(from: next, limit: 5000)
            guard let last = rows.last else { break }
            try await writer.write { connection in
                let appender = try connection.appender(table: "direct")
                for event in rows { try appender.appendRow([.int(event.position), .string(event.aggregate.id), .string(event.payload)]) }
                try appender.close()
            }
            next = last.position + 1
        }
        let directTime = clock.now - start
        let projectRate = Double(projected) / seconds(projectTime), directRate = Double(projected) / seconds(directTime)
        print("projector (appender projection, batches of 5 000): \(Int(projectRate)) events/s; reading the log and appending the same rows \(Int(directRate)) rows/s → ratio \(fmt(projectRate / directRate, 2))")
        await writer.shutdown()

        // 4. Payload validation, per MiB of JSON, against SQLite's json_valid and Foundation's parser.
        try validationBench(clock: clock)
    }

    func validationBench(clock: ContinuousClock) throws {
        let item = #"{"customer":"c\u00e9 \"quoted\"","amount":-12.5e3,"tags":["a","b",true,null],"nested":{"k":[1,2,3]}}"#
        var document = "["
        while document.utf8.count < 1 << 20 { document += item + "," }
        document += "0]"
        let mebibytes = Double(document.utf8.count) / Double(1 << 20)
        let rounds = 20
        func time(_ body: () throws -> Bool) rethrows -> Double {
            var best = Double.infinity
            for _ in 0..<rounds {
                let start = clock.now
                let valid = try body()
                precondition(valid)
                best = min(best, seconds(clock.now - start))
            }
            return best * 1000 / mebibytes
        }
        let ours = time { JSONValidator.problem(in: document) == nil }
        let sqlite = try DatabaseQueue()
        let theirs = try time { try sqlite.read { try Bool.fetchOne($0, sql: "SELECT json_valid(?)", arguments: [document]) } ?? false }
        let foundation = time { (try? JSONSerialization.jsonObject(with: Data(document.utf8), options: .fragmentsAllowed)) != nil }
        print("payload validation: \(fmt(ours, 2)) ms/MiB; SQLite json_valid \(fmt(theirs, 2)) ms/MiB → ratio \(fmt(ours / theirs, 2)); JSONSerialization \(fmt(foundation, 1)) ms/MiB")
    }

    /// Arrival times by position, shared by the subscriber task and the measuring loop.
    final class Received: Sendable {
        private let arrivals = Mutex<[Int64: ContinuousClock.Instant]>([:])
        func record(_ position: Int64, at instant: ContinuousClock.Instant) { arrivals.withLock { $0[position] = instant } }
        func arrival(of position: Int64) -> ContinuousClock.Instant? { arrivals.withLock { $0[position] } }
    }
}
