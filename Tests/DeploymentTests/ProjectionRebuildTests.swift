import Deployment
import DuckDBClient
import EventLogCore
import EventProjection
import EventStore
import Foundation
import MetricsTestKit
import Testing
import Synchronization
import TestSupport

/// ``Projector/rebuild(to:tables:progress:)`` while the projector runs and events keep arriving: the
/// swapped tables equal a projection of the whole log with the new statements, and nothing is
/// applied twice or lost around the swap.
@Suite(.timeLimit(.minutes(2))) struct ProjectionRebuildTests {
    static func config(_ statement: String, columns: String) -> DeploymentConfig {
        DeploymentConfig(text: """
            events:
              Counted: { payload: { n: integer } }
            projections:
              - name: counts
                tables: { counts: "\(columns)" }
                statements: { Counted: "\(statement)" }
            """, directory: URL(fileURLWithPath: "/"))
    }

    @Test func aRebuildBesideTheRunningProjectorEqualsAFromScratchProjection() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let old = Self.config("INSERT INTO counts VALUES ($position, $payload.n)", columns: "position BIGINT PRIMARY KEY, n BIGINT")
        let new = Self.config("INSERT INTO counts VALUES ($position, $payload.n * 2, $aggregate_id)",
                              columns: "position BIGINT PRIMARY KEY, doubled BIGINT NOT NULL, source VARCHAR NOT NULL")
        #expect(old.problems.isEmpty && new.problems.isEmpty, "\(old.problems) \(new.problems)")
        let log = try SQLiteEventStore(path: dir.appendingPathComponent("events.sqlite").path)
        let database = try Database(path: dir.appendingPathComponent("data.duckdb").path)
        let writer = try DuckDBWriter(database: database)
        let metrics = TestMetrics()
        let projector = Projector(name: "config", log: log, writer: writer, projections: old.projectorProjections, batchSize: 16, metricsFactory: metrics)
        try await projector.setUp()
        let swappedAt = CheckpointBox()
        func append(_ n: Int) async throws -> Int64 {
            try await log.append([NewEvent(type: "Counted", payload: #"{"n":\#(n)}"#)], to: AggregateID(type: "C", id: "c\(n)"), expectedVersion: .any)[0].position
        }
        for n in 1...150 { _ = try await append(n) }
        #expect(try await projector.catchUp() == 150, "the live tables hold the first 150 before the rebuild starts")
        let last = try await withThrowingTaskGroup(of: Int64.self) { group in
            group.addTask { try await projector.run(); return 0 }
            // Events keep arriving during the replay and the swap.
            group.addTask {
                var last: Int64 = 0
                for n in 151...300 { last = try await append(n) }
                return last
            }
            group.addTask {
                let progress = ProgressBox()
                let checkpoint = try await projector.rebuild(to: new.projectorProjections, tables: Set(new.projectedTables)) { progress.add($0) }
                swappedAt.value.withLock { $0 = checkpoint }
                #expect(progress.count > 0, "the replay reported progress")
                return 0
            }
            var last: Int64 = 0
            for _ in 0..<2 { last = max(last, try await group.next() ?? 0) }
            try await projector.waitUntilApplied(last, timeout: .seconds(30))
            group.cancelAll()
            while (try? await group.next()) != nil {}
            return last
        }
        #expect(last == 300)
        // Progress in /metrics: the target is the live checkpoint when the replay began (at least
        // the 150 applied before), the position climbs to the checkpoint of the swap.
        let target = try metrics.expectGauge("projector_rebuild_target", [("projector", "config")]).lastValue ?? -1.0
        let positions = try metrics.expectGauge("projector_rebuild_position", [("projector", "config")]).values
        #expect(target >= 150 && target <= 300, "target \(target)")
        #expect(positions.count >= 2 && positions == positions.sorted(), "\(positions)")
        let swap = swappedAt.value.withLock { $0 }
        #expect(positions.last.map { Int64($0) } == swap, "\(positions.suffix(3)) vs the swap at \(String(describing: swap))")
        #expect((positions.last ?? 0) >= target)
        let rows = try await writer.write { connection in
            let result = try connection.query("SELECT position, doubled, source FROM counts ORDER BY position")
            return (0..<result.rowCount).map { "\(result.row($0)[0])|\(result.row($0)[1])|\(result.row($0)[2])" }
        }
        // Position p holds event n = p (appended in order, one per aggregate).
        let expected = (1...300).map { "\(DuckDBValue.int(Int64($0)))|\(DuckDBValue.int(Int64($0 * 2)))|\(DuckDBValue.string("c\($0)"))" }
        #expect(rows.count == 300)
        #expect(rows == expected, "first difference: \(zip(rows, expected).first { $0 != $1 }.map { "\($0)" } ?? "counts differ")")
        let leftovers = try await writer.write { try $0.query("SELECT count(*) FROM duckdb_schemas() WHERE schema_name = 'projector_rebuild'").row(0)[0] }
        #expect(leftovers == .int(0), "the rebuild schema is dropped at the swap")
        await writer.shutdown()
    }

    @Test func aRebuildWhoseStatementsFailLeavesTheLiveTablesAndProjectionsAlone() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { TestSupport.remove(dir) }
        let old = Self.config("INSERT INTO counts VALUES ($position, $payload.n)", columns: "position BIGINT PRIMARY KEY, n BIGINT")
        // A CHECK the logged events violate: the replay fails on the first.
        let bad = Self.config("INSERT INTO counts VALUES ($position, $payload.n)", columns: "position BIGINT PRIMARY KEY, n BIGINT CHECK (n < 0)")
        let log = try SQLiteEventStore(path: dir.appendingPathComponent("events.sqlite").path)
        let database = try Database(path: dir.appendingPathComponent("data.duckdb").path)
        let writer = try DuckDBWriter(database: database)
        let projector = Projector(name: "config", log: log, writer: writer, projections: old.projectorProjections)
        try await projector.setUp()
        for n in 1...5 { _ = try await log.append([NewEvent(type: "Counted", payload: #"{"n":\#(n)}"#)], to: AggregateID(type: "C", id: "c\(n)"), expectedVersion: .any) }
        #expect(try await projector.catchUp() == 5)
        await #expect(throws: (any Error).self) { try await projector.rebuild(to: bad.projectorProjections, tables: Set(bad.projectedTables)) }
        _ = try await log.append([NewEvent(type: "Counted", payload: #"{"n":6}"#)], to: AggregateID(type: "C", id: "c6"), expectedVersion: .any)
        #expect(try await projector.catchUp() == 6, "the old projections still apply")
        let sum = try await writer.write { try $0.query("SELECT sum(n)::BIGINT FROM main.counts").row(0)[0] }
        #expect(sum == .int(21))
        await writer.shutdown()
    }
}

/// Counts progress callbacks.
final class ProgressBox: Sendable {
    let calls = Mutex(0)
    func add(_ progress: Projector.RebuildProgress) { calls.withLock { $0 += 1 } }
    var count: Int { calls.withLock { $0 } }
}

/// The checkpoint a rebuild returned.
final class CheckpointBox: Sendable {
    let value = Mutex<Int64?>(nil)
}
